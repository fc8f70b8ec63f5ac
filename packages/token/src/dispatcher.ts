/**
 * The network a daemon really has: a forward proxy (explicit, or from
 * `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`, which Node 20's `fetch` ignores),
 * extra trust anchors, and a TLS client certificate (RFC 8705 mutual TLS),
 * as one `undici` dispatcher for the transport. `undici` is loaded only when
 * a dispatcher is needed.
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import { TokenRequestError } from './errors.js';

/** How requests reach the network. */
export interface NetworkOptions {
  /**
   * Forward proxy URL (`http://proxy:3128`, user info allowed), used for every
   * request; `false`: none, whatever the environment says. Default: the
   * environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, lower-case too).
   */
  readonly proxy?: string | false;
  /** Extra trust anchors for servers (PEM), in addition to Node's (and `NODE_EXTRA_CA_CERTS`). */
  readonly ca?: string | readonly string[];
}

/** A TLS client certificate for mutual TLS (RFC 8705 §2): PEM, chain leaf first. */
export interface TlsClientCertificate {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

const PROXY_VARIABLES = ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY'] as const;

/**
 * Check a `proxy` option before any request.
 *
 * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS` when it is not an `http:` or `https:` URL (the message never shows its user info)
 */
export function checkProxyOption(proxy: string | false | undefined): void {
  if (proxy === undefined || proxy === false) return;
  const url = URL.canParse(proxy) ? new URL(proxy) : undefined;
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new TokenRequestError('ERR_INVALID_OPTIONS', 'proxy must be an http: or https: URL (or false).');
  }
}

/**
 * The dispatcher for `network` and `client`, or `undefined` when Node's
 * global `fetch` will do (no proxy, no extra CA, no client certificate).
 * The environment is read here, once per credential.
 *
 * @param env - the environment to read proxy variables from. Default `process.env`.
 */
export async function createDispatcher(
  network: NetworkOptions,
  client?: TlsClientCertificate,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Dispatcher | undefined> {
  const fromEnvironment = network.proxy === undefined && PROXY_VARIABLES.some((name) => (env[name] ?? '') !== '');
  const explicit = typeof network.proxy === 'string' ? network.proxy : undefined;
  if (!fromEnvironment && explicit === undefined && network.ca === undefined && client === undefined) return undefined;
  const tls = {
    ...(network.ca === undefined ? {} : { ca: typeof network.ca === 'string' ? network.ca : [...network.ca] }),
    ...(client === undefined ? {} : { cert: client.certificatePem, key: client.privateKeyPem }),
  };
  const { Agent, EnvHttpProxyAgent, ProxyAgent } = await import('undici');
  if (explicit !== undefined) return new ProxyAgent({ uri: explicit, requestTls: tls, proxyTls: tls.ca === undefined ? {} : { ca: tls.ca } });
  if (fromEnvironment) {
    return new EnvHttpProxyAgent({
      connect: tls,
      requestTls: tls,
      httpProxy: env.http_proxy ?? env.HTTP_PROXY ?? '',
      httpsProxy: env.https_proxy ?? env.HTTPS_PROXY ?? '',
      noProxy: env.no_proxy ?? env.NO_PROXY ?? '',
    });
  }
  return new Agent({ connect: tls });
}
