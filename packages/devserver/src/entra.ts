/**
 * A token endpoint that behaves as Microsoft Entra ID documents for the
 * client credentials grant with certificate credentials (v1 and v2
 * endpoints), with real verification of the client assertion and faults on
 * demand.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

import { registerClient, ReplayCache, verifyAssertion, type RegisteredClient } from './entra-assertion.js';
import { EntraError, entraErrorBody, missingParameter, type ErrorContext } from './entra-errors.js';
import {
  cannedReply,
  jsonReply,
  validateFault,
  writable,
  writeDrip,
  writeOversize,
  writeReset,
  type EntraFault,
  type Reply,
} from './entra-faults.js';
import { BodyTooLargeError, copyHeaders, listenOnLoopback, readBody, sendJson, type LoopbackTls } from './http.js';
import { decodeAssertion, parseForm, type RecordedRequest } from './record.js';

/** `client_assertion_type` for a JWT bearer client assertion (RFC 7523 §2.2). */
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Largest request body accepted. */
const BODY_LIMIT = 1024 * 1024;

/** An application registered with {@link startEntraServer}. */
export interface EntraClient {
  /** Application (client) id; the assertion's `iss` and `sub` must equal it. */
  clientId: string;
  /**
   * The application's certificates, as PEM text (a PEM text may hold several
   * certificates) or DER bytes. The assertion header's `x5t#S256` (or else
   * `x5t`) picks one; a certificate outside its validity period is refused
   * as Entra refuses an expired key credential.
   */
  certificates: Array<string | Uint8Array>;
  /**
   * Optional client secret, accepted as `client_secret` in the form (never
   * together with an assertion). Lets the migration path "secret today,
   * certificate tomorrow" be exercised; without it every `client_secret`
   * gets `AADSTS7000215`.
   */
  secret?: string;
}

/** Options of {@link startEntraServer}. */
export interface EntraServerOptions {
  /** The tenant id in the paths, e.g. a GUID. Other tenants get `AADSTS90002`. */
  tenantId: string;
  /**
   * More tenants this server answers for (a multi-tenant app consented in each), with the same clients. A token
   * request to `/{other}/oauth2/…` then needs an assertion whose `aud` is that tenant's endpoint, and the token
   * carries that `tid` and issuer.
   */
  additionalTenantIds?: string[];
  /** Registered applications. */
  clients: EntraClient[];
  /**
   * `expires_in` / `ext_expires_in` of issued tokens, in seconds.
   *
   * @defaultValue `3599`
   */
  tokenLifetimeSeconds?: number;
  /** When set, v2 answers carry `refresh_in` with this value (seconds). */
  refreshInSeconds?: number;
  /**
   * Serve HTTPS (`node:https`) instead of plain HTTP, with this server
   * certificate and key, both PEM (text or file bytes). Then `url`,
   * `tokenEndpoint()` — hence the `aud` an assertion must carry —,
   * `issuer()`, `jwksUri` and the discovery documents are all
   * `https://127.0.0.1:PORT/…`, so clients that refuse `http:` authorities
   * (MSAL Node) can call it.
   *
   * The certificate must name `IP:127.0.0.1` in its subjectAltName, and the
   * client must trust its issuer: for Node's global `fetch`, start the
   * process with `NODE_EXTRA_CA_CERTS=ca.pem` (read at process start only);
   * with `node:https` `request`, pass `ca`. An unusable certificate or key
   * makes `startEntraServer` reject.
   *
   * @example
   * ```ts
   * const entra = await startEntraServer({
   *   tenantId,
   *   clients,
   *   tls: { cert: readFileSync('server.crt'), key: readFileSync('server.key') },
   * });
   * entra.tokenEndpoint('v2'); // https://127.0.0.1:PORT/<tenantId>/oauth2/v2.0/token
   * ```
   */
  tls?: LoopbackTls;
}

/** A running {@link startEntraServer} instance. */
export interface EntraServer {
  /**
   * The authority host, `http://127.0.0.1:PORT`, or `https://127.0.0.1:PORT`
   * with the `tls` option (no trailing slash).
   */
  url: string;
  /**
   * The token endpoint URL, also the exact `aud` the assertion must carry:
   * `${url}/${tenant}/oauth2/v2.0/token` (v2) or `${url}/${tenant}/oauth2/token` (v1); `tenant` defaults to `tenantId`.
   */
  tokenEndpoint(version: 'v1' | 'v2', tenant?: string): string;
  /**
   * The `iss` of access tokens issued by that endpoint, Entra's own (public
   * cloud) issuers so that emulators of Azure services accept the tokens:
   * `https://login.microsoftonline.com/${tenantId}/v2.0` (v2) or
   * `https://sts.windows.net/${tenantId}/` (v1). Also the `issuer` of the
   * discovery documents, as Entra serves them.
   */
  issuer(version: 'v1' | 'v2', tenant?: string): string;
  /** Where the access-token signing key is published: `${url}/${tenantId}/discovery/v2.0/keys`. */
  jwksUri: string;
  /**
   * Requests received on token endpoint paths (any tenant, any method),
   * faulted ones included, in arrival order.
   */
  requests: RecordedRequest[];
  /** Queues faults for the next token requests, in order, one per request. */
  fail(...faults: EntraFault[]): void;
  /**
   * Access tokens handed out, in order. `expiresOn` is the token's `exp` in
   * **milliseconds** since the epoch.
   */
  issued: Array<{ token: string; expiresOn: number }>;
  /** Stops the server, drops its connections and cancels pending faults. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts, on `127.0.0.1` (random port), a token endpoint that behaves as
 * Microsoft Entra ID documents for the client credentials grant. It serves
 * plain HTTP, or HTTPS with {@link EntraServerOptions.tls}; every URL it
 * hands out or expects (`aud` included) uses that scheme.
 *
 * Routes (`{tenant}` = `tenantId`):
 * - `POST /{tenant}/oauth2/v2.0/token` and `POST /{tenant}/oauth2/token`
 *   (`application/x-www-form-urlencoded`);
 * - `GET /{tenant}/discovery/v2.0/keys` (and `/{tenant}/discovery/keys`):
 *   the access-token signing key;
 * - `GET /{tenant}/v2.0/.well-known/openid-configuration` and
 *   `GET /{tenant}/.well-known/openid-configuration`;
 * - anything else: `404` JSON.
 *
 * Token requests need `grant_type=client_credentials`, `client_id`, and
 * either `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
 * with `client_assertion`, or (if registered) `client_secret`. v2 needs one
 * `scope` ending in `/.default` (the token's `aud` is the scope without
 * `/.default`); v1 needs `resource` (the token's `aud`).
 *
 * The assertion is verified for real: RS256/PS256 only; certificate chosen
 * by header `x5t#S256`, else `x5t` (base64url of the SHA-256 / SHA-1 of the
 * DER); `iss` = `sub` = `client_id`; `aud` = exactly the token endpoint URL
 * called (a string, not an array); `exp` (and `nbf` when present) within
 * 5 minutes of skew; `jti` required and single use.
 *
 * Errors (status, `error`, AADSTS code): missing field 400 `invalid_request`
 * 900144; bad `client_assertion_type` 400 `invalid_request` 50027; unknown
 * tenant 400 `invalid_request` 90002; other grant 400
 * `unsupported_grant_type` 70003; bad scope 400 `invalid_scope` 70011;
 * unknown client 400 `unauthorized_client` 700016; no credential 401
 * `invalid_client` 7000216; wrong/unregistered secret 401 `invalid_client`
 * 7000215; malformed assertion or missing claim 401 `invalid_client` 50027;
 * non-RSA algorithm 401 `invalid_client` 5002738; `iss`/`sub` ≠ client 401
 * `invalid_client` 700021; unknown key, bad signature, expired certificate
 * 401 `invalid_client` 700027; wrong `aud` 401 `invalid_client` 700023;
 * outside time window 401 `invalid_client` 700024; replayed `jti` 401
 * `invalid_client` 50013. Test `error` and the status, not the wording.
 *
 * Access tokens are RS256 JWTs signed with a key generated per instance,
 * shaped as Entra's (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference):
 * `aud` (the resource), `iss` (Entra's, see `issuer()`), `iat`, `nbf`, `exp`,
 * the client id as `appid` + `appidacr` (v1) or `azp` + `azpacr` (v2)
 * (`"2"` certificate, `"1"` secret), `idtyp: "app"`, `oid` = `sub`, `tid`,
 * `uti`, `ver` (`"1.0"` / `"2.0"`).
 *
 * The answers echo `client-request-id` as `correlation_id` (and as a header
 * when `return-client-request-id: true`), and send `x-ms-request-id`.
 */
export async function startEntraServer(options: EntraServerOptions): Promise<EntraServer> {
  const { tenantId } = options;
  const tenants = [tenantId, ...(options.additionalTenantIds ?? [])];
  for (const tenant of tenants) {
    if (typeof tenant !== 'string' || !/^[A-Za-z0-9._-]+$/.test(tenant)) throw new TypeError('tenantId must be a non-empty path segment');
  }
  /** The configured spelling of a tenant in a path, if served. */
  const servedTenant = (tenant: string): string | undefined => tenants.find((t) => t.toLowerCase() === tenant.toLowerCase());
  const lifetime = options.tokenLifetimeSeconds ?? 3599;
  if (!Number.isInteger(lifetime) || lifetime <= 0) throw new TypeError('tokenLifetimeSeconds must be a positive integer');
  const refreshIn = options.refreshInSeconds;
  if (refreshIn !== undefined && (!Number.isInteger(refreshIn) || refreshIn <= 0)) {
    throw new TypeError('refreshInSeconds must be a positive integer');
  }

  const clients = new Map<string, RegisteredClient>();
  for (const client of options.clients) {
    clients.set(client.clientId, registerClient(tenantId, client));
  }

  const signing = await signingKey();
  const requests: RecordedRequest[] = [];
  const issued: Array<{ token: string; expiresOn: number }> = [];
  const faults: EntraFault[] = [];
  const replay = new ReplayCache();
  const timers = new Map<NodeJS.Timeout, (completed: boolean) => void>();
  let closed = false;

  /** Resolves `true` after `ms`, or `false` at once if the server closes. */
  const sleep = (ms: number): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      if (closed) return resolve(false);
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve(true);
      }, ms);
      timers.set(timer, resolve);
    });

  const loopback = await listenOnLoopback((req, res) => handle(req, res), options.tls);
  const url = loopback.origin;
  const tokenEndpoint = (version: 'v1' | 'v2', tenant = tenantId): string =>
    version === 'v2' ? `${url}/${tenant}/oauth2/v2.0/token` : `${url}/${tenant}/oauth2/token`;
  // Entra's issuers, not this server's URL: Azurite, for one, accepts only `https://sts.windows.net/…`.
  const issuer = (version: 'v1' | 'v2', tenant = tenantId): string =>
    version === 'v2' ? `https://login.microsoftonline.com/${tenant}/v2.0` : `https://sts.windows.net/${tenant}/`;
  const jwksUri = `${url}/${tenantId}/discovery/v2.0/keys`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const path = new URL(req.url ?? '/', url).pathname;
    const context: ErrorContext = {
      traceId: randomUUID(),
      correlationId: clientRequestId(req) ?? randomUUID(),
      origin: url,
      now: new Date(receivedAt),
    };

    const token = /^\/([^/]+)\/oauth2\/(?:(v2\.0)\/)?token\/?$/.exec(path);
    if (token === null) return serveOther(req, res, path);
    const tenant = safeDecode(token[1]!);
    const version = token[2] === undefined ? 'v1' : 'v2';

    let raw = '';
    let tooLarge = false;
    try {
      raw = (await readBody(req, BODY_LIMIT)).toString('utf8');
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      tooLarge = true;
    }
    const isForm = /^application\/x-www-form-urlencoded\s*(;|$)/i.test(req.headers['content-type'] ?? '');
    const form = isForm ? parseForm(raw) : {};
    const record: RecordedRequest = { method: req.method ?? 'GET', path, headers: copyHeaders(req), form, receivedAt };
    const assertion = decodeAssertion(form['client_assertion']);
    if (assertion !== undefined) record.assertion = assertion;
    requests.push(record);

    const headers: Record<string, string> = { 'x-ms-request-id': context.traceId };
    if (req.headers['return-client-request-id'] === 'true' && clientRequestId(req) !== undefined) {
      headers['client-request-id'] = context.correlationId;
    }

    const fault = faults.shift();
    if (fault !== undefined) {
      const canned = cannedReply(fault, version, context);
      if (canned !== undefined) return send(res, { ...canned, headers: { ...headers, ...canned.headers } });
      if (fault.kind === 'reset') return writeReset(res);
      if (fault.kind === 'oversize') return writeOversize(res, fault.bytes, () => closed);
      if (fault.kind === 'slow' && !(await sleep(fault.delayMs))) return;
    }

    let reply: Reply;
    if (req.method !== 'POST') {
      reply = jsonReply(404, { error: 'not_found', error_description: `${req.method} ${path} is not a route` });
    } else if (tooLarge) {
      reply = jsonReply(413, { error: 'invalid_request', error_description: `request body exceeds ${BODY_LIMIT} bytes` });
    } else {
      try {
        context.now = new Date(); // after any `slow` delay
        const success = await issueToken(tenant, version, form, context.now);
        if (fault?.kind === 'expires-in') {
          if (fault.value === undefined) delete success['expires_in'];
          else success['expires_in'] = fault.value;
        }
        reply = jsonReply(200, success, { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' });
      } catch (err) {
        if (!(err instanceof EntraError)) throw err;
        reply = jsonReply(err.status, entraErrorBody(err.error, err.code, err.message, context), {
          'cache-control': 'no-store, no-cache',
          pragma: 'no-cache',
        });
      }
    }
    reply.headers = { ...headers, ...reply.headers };
    if (fault?.kind === 'date') reply.headers['date'] = fault.date;
    if (fault?.kind === 'drip') return writeDrip(res, reply, fault.intervalMs, fault.chunks, sleep);
    send(res, reply);
  }

  function serveOther(req: IncomingMessage, res: ServerResponse, path: string): void {
    req.resume();
    if (req.method === 'GET') {
      const keys = /^\/([^/]+)\/discovery\/(?:v2\.0\/)?keys\/?$/.exec(path);
      if (keys !== null && keys[1] === tenantId) return sendJson(res, 200, { keys: [signing.publicJwk] });
      const discovery = /^\/([^/]+)\/(?:(v2\.0)\/)?\.well-known\/openid-configuration$/.exec(path);
      if (discovery !== null && discovery[1] === tenantId) {
        const version = discovery[2] === undefined ? 'v1' : 'v2';
        return sendJson(res, 200, {
          issuer: issuer(version),
          token_endpoint: tokenEndpoint(version),
          jwks_uri: version === 'v2' ? jwksUri : `${url}/${tenantId}/discovery/keys`,
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt'],
          grant_types_supported: ['client_credentials'],
          id_token_signing_alg_values_supported: ['RS256'],
          tenant_region_scope: 'WW',
        });
      }
    }
    sendJson(res, 404, { error: 'not_found', error_description: `${req.method} ${path} is not a route` });
  }

  /** Validates a token request and issues a token; throws {@link EntraError}. */
  async function issueToken(
    tenant: string,
    version: 'v1' | 'v2',
    form: Record<string, string>,
    now: Date,
  ): Promise<Record<string, unknown>> {
    const served = servedTenant(tenant);
    if (served === undefined) {
      throw new EntraError(
        400,
        'invalid_request',
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      );
    }
    const grantType = form['grant_type'];
    if (!grantType) throw missingParameter('grant_type');
    if (grantType !== 'client_credentials') {
      throw new EntraError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType}'.`);
    }
    const clientId = form['client_id'];
    if (!clientId) throw missingParameter('client_id');

    let resource: string;
    if (version === 'v2') {
      const scope = form['scope'];
      if (!scope) throw missingParameter('scope');
      const scopes = scope.split(' ').filter((s) => s !== '');
      const only = scopes.length === 1 ? scopes[0]! : undefined;
      if (only === undefined || !only.endsWith('/.default') || only.length === '/.default'.length) {
        throw new EntraError(
          400,
          'invalid_scope',
          70011,
          `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid. ` +
            `The client credentials grant takes a single scope of the form {resource}/.default.`,
        );
      }
      resource = only.slice(0, -'/.default'.length);
    } else {
      const requested = form['resource'];
      if (!requested) throw missingParameter('resource');
      resource = requested;
    }

    const client = clients.get(clientId);
    if (client === undefined) {
      throw new EntraError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenantId}'. This can happen if the ` +
          `application has not been installed by the administrator of the tenant or consented to by any user in the tenant. ` +
          `You may have sent your authentication request to the wrong tenant.`,
      );
    }

    let acr: '1' | '2';
    if (form['client_secret'] !== undefined) {
      if (client.secret === undefined || form['client_assertion'] !== undefined || form['client_secret'] !== client.secret) {
        throw new EntraError(
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, ` +
            `not the client secret ID, for a secret added to app '${clientId}'.`,
        );
      }
      acr = '1';
    } else {
      const assertion = form['client_assertion'];
      if (!assertion) {
        throw new EntraError(
          401,
          'invalid_client',
          7000216,
          `'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.`,
        );
      }
      const assertionType = form['client_assertion_type'];
      if (!assertionType) throw missingParameter('client_assertion_type');
      if (assertionType !== JWT_BEARER) {
        throw new EntraError(400, 'invalid_request', 50027, `Invalid client_assertion_type '${assertionType}'. Expected '${JWT_BEARER}'.`);
      }
      await verifyAssertion(client, assertion, tokenEndpoint(version, served), now, replay);
      acr = '2';
    }

    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + lifetime;
    const accessToken = await new SignJWT({
      aud: resource,
      iss: issuer(version, served),
      iat,
      nbf: iat,
      exp,
      // v1 names the client `appid` (+ `appidacr`), v2 `azp` (+ `azpacr`), as Entra's access token reference says.
      ...(version === 'v2' ? { azp: clientId, azpacr: acr } : { appid: clientId, appidacr: acr }),
      idtyp: 'app',
      oid: client.objectId,
      sub: client.objectId,
      tid: served,
      uti: randomUUID().replaceAll('-', ''),
      ver: version === 'v2' ? '2.0' : '1.0',
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: signing.kid, x5t: signing.kid })
      .sign(signing.privateKey);
    issued.push({ token: accessToken, expiresOn: exp * 1000 });

    if (version === 'v2') {
      return {
        token_type: 'Bearer',
        expires_in: lifetime,
        ext_expires_in: lifetime,
        ...(refreshIn === undefined ? {} : { refresh_in: refreshIn }),
        access_token: accessToken,
      };
    }
    return {
      token_type: 'Bearer',
      expires_in: String(lifetime),
      ext_expires_in: String(lifetime),
      expires_on: String(exp),
      not_before: String(iat),
      resource,
      access_token: accessToken,
    };
  }

  function send(res: ServerResponse, reply: Reply): void {
    if (!writable(res)) return;
    const body = Buffer.from(reply.body);
    res.writeHead(reply.status, { ...reply.headers, 'content-length': String(body.length) });
    res.end(body);
  }

  return {
    url,
    tokenEndpoint,
    issuer,
    jwksUri,
    requests,
    issued,
    fail(...queued: EntraFault[]) {
      for (const fault of queued) validateFault(fault);
      faults.push(...queued);
    },
    close() {
      closed = true;
      for (const [timer, resolve] of timers) {
        clearTimeout(timer);
        resolve(false);
      }
      timers.clear();
      return loopback.close();
    },
  };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function clientRequestId(req: IncomingMessage): string | undefined {
  const value = req.headers['client-request-id'];
  return typeof value === 'string' && /^[0-9a-f-]{36}$/i.test(value) ? value : undefined;
}

async function signingKey(): Promise<{ privateKey: CryptoKey; publicJwk: JWK; kid: string }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { privateKey, publicJwk: { ...jwk, kid, x5t: kid, use: 'sig', alg: 'RS256' } as JWK, kid };
}
