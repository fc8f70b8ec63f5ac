// Proxies and trust anchors (issue 11): every request of a credential — token
// endpoint, and createAuthorizedFetch's resource calls — goes through one
// undici dispatcher built from `proxy` / `HTTPS_PROXY` / `NO_PROXY` and `ca`.
// A real forward proxy (npm `proxy`, the one undici's own tests use) on
// 127.0.0.1 counts the tunnels (CONNECT) and the plain-HTTP requests it relays.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProxy, type ProxyServer } from 'proxy';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startEntraServer, startResourceServer, type EntraServer } from '@x/devserver';

import { ClientCertificateCredential, createAuthorizedFetch, TokenRequestError } from '../src/index.js';
import { makeCertificate, type TestCertificate } from './binding-support.js';
import { certificateDir, FAST_RETRY, type CertificateDir, type TestCertificate as ClientCertificate } from './support.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '11111111-2222-3333-4444-555555555555';
const SCOPE = 'https://graph.example.test/.default';
const PROXY_PASSWORD = 'proxy-pw-0b7c1e';

interface CountingProxy {
  readonly url: string;
  /** `host:port` of every CONNECT (a tunnel for https). */
  readonly tunnels: string[];
  /** Absolute URLs of every plain-HTTP request relayed without a tunnel. */
  readonly relayed: string[];
  close(): Promise<void>;
}

async function startProxy(authenticate?: (req: IncomingMessage) => boolean): Promise<CountingProxy> {
  const server: ProxyServer = createProxy(createServer());
  if (authenticate !== undefined) server.authenticate = authenticate;
  const tunnels: string[] = [];
  const relayed: string[] = [];
  server.prependListener('connect', (req: IncomingMessage) => tunnels.push(req.url ?? ''));
  server.prependListener('request', (req: IncomingMessage) => relayed.push(req.url ?? ''));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    relayed,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let tmp: string;
let serverCertificate: TestCertificate;
let dir: CertificateDir;
let client: ClientCertificate;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'x-token-proxy-'));
  dir = await certificateDir();
  [serverCertificate, client] = await Promise.all([
    makeCertificate(tmp, 'server', ['-addext', 'subjectAltName=IP:127.0.0.1'], 'ec'),
    dir.make('client'),
  ]);
});

afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

afterAll(async () => {
  await Promise.all([rm(tmp, { recursive: true, force: true }), dir?.remove()]);
});

async function entra(https: boolean): Promise<EntraServer> {
  const server = await startEntraServer({
    tenantId: TENANT,
    clients: [{ clientId: CLIENT, certificates: [client.certPem] }],
    ...(https ? { tls: { cert: serverCertificate.certificatePem, key: serverCertificate.privateKeyPem } } : {}),
  });
  closers.push(() => server.close());
  return server;
}

async function proxy(authenticate?: (req: IncomingMessage) => boolean): Promise<CountingProxy> {
  const started = await startProxy(authenticate);
  closers.push(() => started.close());
  return started;
}

/** Run `body` with `variables` set in this process's environment, then restore it. */
async function withEnvironment<T>(variables: Record<string, string>, body: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]));
  Object.assign(process.env, variables);
  try {
    return await body();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

const TUNNEL = (server: EntraServer) => new URL(server.url).host;

describe('proxy option', () => {
  it('sends the token request through an explicit proxy, in a tunnel, trusting the given ca', async () => {
    const [server, forward] = await Promise.all([entra(true), proxy()]);
    const credential = new ClientCertificateCredential(TENANT, CLIENT, client.bundlePath, {
      authorityHost: server.url,
      proxy: forward.url,
      ca: serverCertificate.certificatePem,
      retry: FAST_RETRY,
    });
    const { token } = await credential.getToken(SCOPE);
    expect(server.issued.map((i) => i.token)).toStrictEqual([token]);
    expect(server.requests).toHaveLength(1);
    expect(forward.tunnels).toStrictEqual([TUNNEL(server)]);
  });

  it('without the ca, the server certificate is refused (ERR_NETWORK), even through the proxy', async () => {
    const [server, forward] = await Promise.all([entra(true), proxy()]);
    const credential = new ClientCertificateCredential(TENANT, CLIENT, client.bundlePath, {
      authorityHost: server.url,
      proxy: forward.url,
      retry: { maxAttempts: 1 },
    });
    await expect(credential.getToken(SCOPE)).rejects.toMatchObject({ code: 'ERR_NETWORK' });
    expect(server.requests).toHaveLength(0);
    expect(forward.tunnels).toHaveLength(1);
  });

  it('authenticates to the proxy with the URL user info, and never shows the password', async () => {
    const expected = `Basic ${Buffer.from(`daemon:${PROXY_PASSWORD}`).toString('base64')}`;
    const [server, forward] = await Promise.all([entra(true), proxy((req) => req.headers['proxy-authorization'] === expected)]);
    const options = { authorityHost: server.url, ca: serverCertificate.certificatePem, retry: { maxAttempts: 1 } };
    const good = new ClientCertificateCredential(TENANT, CLIENT, client.bundlePath, {
      ...options,
      proxy: `http://daemon:${PROXY_PASSWORD}@${new URL(forward.url).host}`,
    });
    await good.getToken(SCOPE);
    expect(forward.tunnels).toHaveLength(1);

    const wrong = new ClientCertificateCredential(TENANT, CLIENT, client.bundlePath, {
      ...options,
      proxy: `http://daemon:wrong-${PROXY_PASSWORD}@${new URL(forward.url).host}`,
    });
    const error = await wrong.getToken(SCOPE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenRequestError);
    expect((error as TokenRequestError).code).toBe('ERR_NETWORK');
    const shown = JSON.stringify([String(error), (error as Error).stack, (error as Error).cause, JSON.stringify(wrong)]);
    expect(shown).not.toContain(PROXY_PASSWORD);
    expect(server.requests).toHaveLength(1);
  });

  it('refuses a proxy that is not an http(s) URL, without quoting it', () => {
    for (const bad of [`socks5://daemon:${PROXY_PASSWORD}@127.0.0.1:1080`, 'not a url', true]) {
      let error: unknown;
      try {
        new ClientCertificateCredential(TENANT, CLIENT, client.bundlePath, { proxy: bad as string });
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'ERR_INVALID_OPTIONS' });
      expect(String(error)).not.toContain(PROXY_PASSWORD);
    }
  });
});

describe('HTTPS_PROXY / HTTP_PROXY / NO_PROXY', () => {
  it('HTTPS_PROXY is honoured for https token endpoints', async () => {
    const [server, forward] = await Promise.all([entra(true), proxy()]);
    await withEnvironment({ HTTPS_PROXY: forward.url, NO_PROXY: '' }, async () => {
      const credential = new ClientCertificateCredential(TENANT, CLIENT, client.bundlePath, {
        authorityHost: server.url,
        ca: serverCertificate.certificatePem,
        retry: FAST_RETRY,
      });
      await credential.getToken(SCOPE);
    });
    expect(forward.tunnels).toStrictEqual([TUNNEL(server)]);
    expect(server.requests).toHaveLength(1);
  });

  it('NO_PROXY and proxy: false go direct', async () => {
    const [server, forward] = await Promise.all([entra(true), proxy()]);
    const base = { authorityHost: server.url, ca: serverCertificate.certificatePem, retry: FAST_RETRY };
    await withEnvironment({ HTTPS_PROXY: forward.url, NO_PROXY: '127.0.0.1' }, () =>
      new ClientCertificateCredential(TENANT, CLIENT, client.bundlePath, base).getToken(SCOPE),
    );
    await withEnvironment({ HTTPS_PROXY: forward.url, NO_PROXY: '' }, () =>
      new ClientCertificateCredential(TENANT, CLIENT, client.bundlePath, { ...base, proxy: false }).getToken(SCOPE),
    );
    expect(server.requests).toHaveLength(2);
    expect(forward.tunnels).toStrictEqual([]);
  });

  it('createAuthorizedFetch sends resource calls through the credential’s proxy (HTTP_PROXY, plain http)', async () => {
    const [server, forward] = await Promise.all([entra(false), proxy()]);
    const resource = await startResourceServer({ jwksUri: server.jwksUri, audience: 'https://graph.example.test' });
    closers.push(() => resource.close());
    const answer = await withEnvironment({ HTTP_PROXY: forward.url, NO_PROXY: '' }, async () => {
      const credential = new ClientCertificateCredential(TENANT, CLIENT, client.bundlePath, { authorityHost: server.url, retry: FAST_RETRY });
      const api = createAuthorizedFetch(credential, SCOPE);
      const response = await api(`${resource.url}/items`);
      return { status: response.status, body: (await response.json()) as { ok?: boolean } };
    });
    expect(answer).toMatchObject({ status: 200, body: { ok: true } });
    expect(resource.requests).toBe(1);
    // undici tunnels plain http too (CONNECT), or relays it in absolute form: either way, through the proxy.
    const seen = [...forward.tunnels, ...forward.relayed.map((url) => new URL(url).host)];
    expect(seen).toStrictEqual([new URL(server.url).host, new URL(resource.url).host]);
  });
});
