/**
 * A real OAuth 2.0 authorization server on loopback: `oidc-provider` 8.x
 * configured for the client credentials grant with `private_key_jwt` client
 * authentication (RFC 7523) and JWT access tokens (RFC 9068) for one API.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, {
  errors,
  type Adapter,
  type AdapterPayload,
  type ClientMetadata,
  type Configuration,
  type KoaContextWithOIDC,
  type ResourceServer,
} from 'oidc-provider';

import { copyHeaders, listenOnLoopback, sendJson, type LoopbackTls } from './http.js';
import { decodeAssertion, type RecordedRequest } from './record.js';

/** A client registered with {@link startOidcServer}. */
export interface OidcClient {
  /** The `client_id`; the assertion's `iss` and `sub` must equal it. */
  clientId: string;
  /**
   * The client's public keys, each with a `kid`. oidc-provider selects the
   * verification key by the assertion header's `kid` (it ignores `x5t` /
   * `x5t#S256`): a `kid` matching no key is refused; an assertion without
   * `kid` is tried against every key of the right type. RSA, EC P-256 and
   * Ed25519 keys work (RS256, PS256, ES256, EdDSA).
   */
  jwks: { keys: object[] };
}

/**
 * An error oidc-provider raised while handling a token request.
 *
 * For client authentication failures the HTTP answer only says
 * `invalid_client` / `client authentication failed`; `error_detail` carries
 * the reason (e.g. `"client assertion tokens must only be used once"`).
 */
export type OidcServerError = Error & {
  /** OAuth error code, e.g. `invalid_client`; absent for a `server_error`. */
  error?: string;
  /** The description sent to the client. */
  error_description?: string;
  /** The reason kept server-side. */
  error_detail?: string;
  /** HTTP status of the answer. */
  statusCode?: number;
};

/** Options of {@link startOidcServer}. */
export interface OidcServerOptions {
  /** The clients allowed to use the client credentials grant. */
  clients: OidcClient[];
  /**
   * The API (RFC 8707 resource indicator) access tokens are issued for; it is
   * also their `aud`. A request that names no `resource` gets a token for it.
   *
   * @defaultValue `'https://api.example.test'`
   */
  resource?: string;
  /**
   * The scopes the API defines. Requested scopes outside this list are
   * dropped from the token silently (oidc-provider's behaviour), not refused.
   *
   * @defaultValue `['api.read']`
   */
  scopes?: string[];
  /**
   * Lifetime of issued access tokens, in seconds.
   *
   * @defaultValue `3600`
   */
  accessTokenTtlSeconds?: number;
  /**
   * Called with every error oidc-provider raises on the token endpoint
   * (`grant.error`) and with unexpected failures (`server_error`), so tests
   * can see why a request got `invalid_client`.
   */
  onError?: (error: OidcServerError) => void;
  /**
   * Serve HTTPS (`node:https`) with this server certificate and key (PEM
   * text or file bytes; the certificate must name `IP:127.0.0.1`). The
   * issuer, `tokenEndpoint`, `jwksUri`, discovery and the accepted assertion
   * `aud` values are then `https://127.0.0.1:PORT…`. Clients must trust the
   * certificate's issuer (`NODE_EXTRA_CA_CERTS` for Node's global `fetch`).
   */
  tls?: LoopbackTls;
}

/** A running {@link startOidcServer} instance. */
export interface OidcServer {
  /** The issuer identifier, `http://127.0.0.1:PORT` (`https://` with `tls`). */
  issuer: string;
  /** `${issuer}/token`; also an accepted client assertion `aud`. */
  tokenEndpoint: string;
  /** `${issuer}/jwks`: the provider's public signing key(s). */
  jwksUri: string;
  /** The API resource indicator and access token audience. */
  resource: string;
  /** Requests received by the token endpoint, in arrival order. */
  requests: RecordedRequest[];
  /** Stops the server and drops its connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts oidc-provider on `127.0.0.1` (random port) as an authorization
 * server for the client credentials grant with `private_key_jwt`.
 *
 * - Discovery: `${issuer}/.well-known/openid-configuration`.
 * - Access tokens are JWTs (`typ: at+jwt`, RS256) signed with a key generated
 *   for this instance and published at `jwksUri`; `aud` is `resource`,
 *   `client_id` and `sub` the client id, `scope` the granted scopes.
 * - The token request may name the API with `resource=` or omit it (with or
 *   without `scope=`): the API is the default resource. Any other `resource`
 *   is refused with `invalid_target`.
 * - Client assertions: `iss` = `sub` = client id, `aud` = issuer or token
 *   endpoint, `exp` and `jti` required, `jti` single use, 15 s clock
 *   tolerance, key chosen by header `kid`.
 *
 * @example
 * ```ts
 * const as = await startOidcServer({ clients: [{ clientId: 'app', jwks: { keys: [publicJwk] } }] });
 * try {
 *   // POST grant_type=client_credentials&scope=api.read&client_assertion_type=…&client_assertion=… to as.tokenEndpoint
 * } finally {
 *   await as.close();
 * }
 * ```
 */
export async function startOidcServer(options: OidcServerOptions): Promise<OidcServer> {
  const resource = options.resource ?? 'https://api.example.test';
  const scopes = options.scopes ?? ['api.read'];
  const ttl = options.accessTokenTtlSeconds ?? 3600;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new TypeError('accessTokenTtlSeconds must be a positive integer');
  try {
    new URL(resource);
  } catch {
    throw new TypeError('resource must be an absolute URI');
  }

  const signingKey = await providerSigningJwk();

  let callback: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const loopback = await listenOnLoopback((req, res) => {
    if (callback === undefined) return sendJson(res, 503, { error: 'temporarily_unavailable' });
    callback(req, res);
  }, options.tls);
  const issuer = loopback.origin;

  const resourceServer: ResourceServer = {
    scope: scopes.join(' '),
    audience: resource,
    accessTokenTTL: ttl,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256' } },
  };

  const configuration: Configuration = {
    adapter: memoryAdapter(),
    clients: options.clients.map(
      (client): ClientMetadata => ({
        client_id: client.clientId,
        token_endpoint_auth_method: 'private_key_jwt',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        jwks: client.jwks as ClientMetadata['jwks'],
      }),
    ),
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        getResourceServerInfo: (_ctx: KoaContextWithOIDC, indicator: string) => {
          if (indicator !== resource) throw new errors.InvalidTarget();
          return resourceServer;
        },
      },
    },
    ttl: {
      ClientCredentials: ttl,
      AccessToken: ttl,
    },
  };

  let provider: Provider;
  try {
    provider = new Provider(issuer, configuration);
  } catch (err) {
    await loopback.close();
    throw err;
  }

  const tokenPath = '/token';
  const requests: RecordedRequest[] = [];

  provider.use(async (ctx, next) => {
    if (ctx.path !== tokenPath) return next();
    const record: RecordedRequest = {
      method: ctx.method,
      path: ctx.path,
      headers: copyHeaders(ctx.req),
      form: {},
      receivedAt: Date.now(),
    };
    requests.push(record);
    try {
      await next();
    } finally {
      const body: unknown = (ctx as Partial<KoaContextWithOIDC>).oidc?.body;
      if (body !== undefined && body !== null && typeof body === 'object') {
        for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
          const first = Array.isArray(value) ? value[0] : value;
          if (typeof first === 'string') record.form[name] = first;
        }
      }
      const assertion = decodeAssertion(record.form['client_assertion']);
      if (assertion !== undefined) record.assertion = assertion;
    }
  });

  const { onError } = options;
  if (onError !== undefined) {
    provider.on('grant.error', (_ctx, err) => onError(err as OidcServerError));
    provider.on('server_error', (_ctx, err) => onError(err as OidcServerError));
  }

  callback = provider.callback();

  return {
    issuer,
    tokenEndpoint: `${issuer}${tokenPath}`,
    jwksUri: `${issuer}/jwks`,
    resource,
    requests,
    close: () => loopback.close(),
  };
}

/** A fresh RSA key for the provider to sign access tokens with. */
async function providerSigningJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' };
}

/**
 * An in-memory adapter private to one provider instance. (oidc-provider's
 * bundled memory adapter shares one store across every provider of the
 * process and prints a warning.)
 */
function memoryAdapter(): new (name: string) => Adapter {
  const store = new Map<string, { value: unknown; expiresAt: number }>();
  const get = <T>(key: string): T | undefined => {
    const entry = store.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.value as T;
  };
  const set = (key: string, value: unknown, expiresIn: number): void => {
    store.set(key, { value, expiresAt: expiresIn > 0 ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY });
  };

  return class InstanceMemoryAdapter implements Adapter {
    readonly #name: string;
    constructor(name: string) {
      this.#name = name;
    }
    #key(id: string): string {
      return `${this.#name}:${id}`;
    }
    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const key = this.#key(id);
      set(key, payload, expiresIn);
      if (payload.uid !== undefined) set(`uid:${payload.uid}`, key, expiresIn);
      if (payload.userCode !== undefined) set(`userCode:${payload.userCode}`, key, expiresIn);
      if (payload.grantId !== undefined) {
        const grantKey = `grant:${payload.grantId}`;
        set(grantKey, [...(get<string[]>(grantKey) ?? []), key], expiresIn);
      }
    }
    async find(id: string): Promise<AdapterPayload | undefined> {
      return get<AdapterPayload>(this.#key(id));
    }
    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const key = get<string>(`uid:${uid}`);
      return key === undefined ? undefined : get<AdapterPayload>(key);
    }
    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const key = get<string>(`userCode:${userCode}`);
      return key === undefined ? undefined : get<AdapterPayload>(key);
    }
    async consume(id: string): Promise<void> {
      const payload = get<AdapterPayload>(this.#key(id));
      if (payload !== undefined) payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string): Promise<void> {
      store.delete(this.#key(id));
    }
    async revokeByGrantId(grantId: string): Promise<void> {
      const grantKey = `grant:${grantId}`;
      for (const key of get<string[]>(grantKey) ?? []) store.delete(key);
      store.delete(grantKey);
    }
  };
}
