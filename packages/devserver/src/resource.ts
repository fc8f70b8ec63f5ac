/**
 * A protected resource (an API) on loopback that accepts only valid JWT
 * access tokens (RFC 6750 bearer usage, RFC 9068-style validation).
 *
 * @module
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';

import { listenOnLoopback, sendJson, type LoopbackTls } from './http.js';

/** Options of {@link startResourceServer}. */
export interface ResourceServerOptions {
  /** Expected `iss` of access tokens; not checked when omitted. */
  issuer?: string;
  /** Where the authorization server publishes its signing keys (fetched with jose's `createRemoteJWKSet`). */
  jwksUri: string;
  /** Expected `aud` of access tokens (a token passes if its `aud` is or contains it). */
  audience: string;
  /**
   * Serve HTTPS (`node:https`) with this server certificate and key (PEM
   * text or file bytes; the certificate must name `IP:127.0.0.1`); `url` is
   * then `https://127.0.0.1:PORT`. Clients must trust the issuer. An https
   * `jwksUri` is fetched with Node's global `fetch`, so a local CA behind it
   * must be trusted by this process (`NODE_EXTRA_CA_CERTS`).
   */
  tls?: LoopbackTls;
}

/** A running {@link startResourceServer} instance. */
export interface ResourceServerHandle {
  /** `http://127.0.0.1:PORT` (`https://` with `tls`; no trailing slash); any path works. */
  url: string;
  /** Number of requests received so far (accepted or not). */
  readonly requests: number;
  /** Stops the server and drops its connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts, on `127.0.0.1` (random port), an API that answers `GET` on any
 * path.
 *
 * With `Authorization: Bearer <jwt>` whose signature verifies against
 * `jwksUri` and whose `aud` (and `iss`, when configured), `exp` and `nbf`
 * are valid, it answers `200` with
 * `{ ok: true, sub, client_id, scope, exp }` — `client_id` is the token's
 * `client_id`, else `azp`, else `appid`; `scope` its `scope`, else `scp`,
 * else its `roles` joined by spaces.
 *
 * Otherwise it answers `401` JSON `{ error, error_description }` with a
 * `WWW-Authenticate: Bearer …` challenge: `error="invalid_token"` for a
 * token that fails validation, `error="invalid_request"` for a malformed
 * `Authorization` header, no error attribute when no credentials were sent
 * (RFC 6750 §3.1). The token is never echoed. Other methods get `405`.
 */
export async function startResourceServer(options: ResourceServerOptions): Promise<ResourceServerHandle> {
  const jwks = createRemoteJWKSet(new URL(options.jwksUri));
  let count = 0;

  const loopback = await listenOnLoopback(async (req, res) => {
    count += 1;
    req.resume();
    const challenge = (status: number, error: string | undefined, description: string): void => {
      const attributes = ['realm="devserver"'];
      if (error !== undefined) attributes.push(`error="${error}"`, `error_description="${description.replace(/["\\]/g, "'")}"`);
      sendJson(res, status, { error: error ?? 'unauthorized', error_description: description }, {
        'www-authenticate': `Bearer ${attributes.join(', ')}`,
      });
    };

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method_not_allowed', error_description: `${req.method} is not supported` }, { allow: 'GET, HEAD' });
      return;
    }
    const authorization = req.headers.authorization;
    if (authorization === undefined) return challenge(401, undefined, 'no access token presented');
    const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
    if (match === null) return challenge(401, 'invalid_request', 'malformed Authorization header, expected: Bearer <token>');

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1]!, jwks, {
        audience: options.audience,
        ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      return challenge(401, 'invalid_token', describe(err));
    }

    const roles = Array.isArray(payload['roles']) ? (payload['roles'] as unknown[]).join(' ') : undefined;
    sendJson(res, 200, {
      ok: true,
      sub: payload.sub,
      client_id: payload['client_id'] ?? payload['azp'] ?? payload['appid'],
      scope: payload['scope'] ?? payload['scp'] ?? roles,
      exp: payload.exp,
    });
  }, options.tls);

  return {
    url: loopback.origin,
    get requests() {
      return count;
    },
    close: () => loopback.close(),
  };
}

/** A short reason for a failed validation, never containing the token. */
function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'the access token expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `the access token ${err.claim} claim is not valid (${err.reason})`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the access token signature is invalid';
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key of the authorization server matches the access token';
  if (err instanceof errors.JOSEError) return `the access token is invalid (${err.code})`;
  return 'the access token could not be validated';
}
