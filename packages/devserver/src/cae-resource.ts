/**
 * A protected resource on loopback that behaves as a CAE-enabled Azure
 * service (Continuous Access Evaluation): it accepts valid JWT access tokens
 * until they are revoked, then answers a claims challenge.
 *
 * Source: learn.microsoft.com `entra/identity-platform/claims-challenge` and
 * `app-resilience-continuous-access-evaluation` (the challenge shape:
 * `WWW-Authenticate: Bearer authorization_uri="…", error="insufficient_claims",
 * claims="<base64 of {"access_token":{"nbf":{"essential":true,"value":"<s>"}}}>"`).
 *
 * @module
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

import { listenOnLoopback, sendJson, type LoopbackTls } from './http.js';

/** Options of {@link startCaeResource}. */
export interface CaeResourceOptions {
  /** Where the authorization server publishes its signing keys. */
  jwksUri: string;
  /** Expected `aud` of access tokens. */
  audience: string;
  /** The `authorization_uri` of challenges, e.g. the Entra server's URL. */
  authorizationUri: string;
  /**
   * The tenant the resource lives in. A valid token of another tenant (`tid`) is then answered with a tenant
   * challenge, as Azure Storage sends it: `WWW-Authenticate: Bearer
   * authorization_uri=https://login.microsoftonline.com/{tenantId}/oauth2/authorize resource_id={audience}`.
   */
  tenantId?: string;
  /** Serve HTTPS with this certificate and key (see `startResourceServer`). */
  tls?: LoopbackTls;
}

/** A running {@link startCaeResource} instance. */
export interface CaeResource {
  /** `http://127.0.0.1:PORT` (`https://` with `tls`); any path works. */
  url: string;
  /** Requests received, accepted or not. */
  readonly requests: number;
  /** Claims challenges sent. */
  readonly challenges: number;
  /** Tenant challenges sent. */
  readonly tenantChallenges: number;
  /** The decoded `claims` (JSON text) the last challenge carried; `undefined` before the first. */
  readonly lastClaims: string | undefined;
  /**
   * Revoke every token presented so far (as Entra does on a critical event:
   * password reset, disabled account, IP policy): each is answered with a
   * claims challenge from now on.
   */
  revokeAll(): void;
  /** Stops the server. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts, on `127.0.0.1` (random port), a resource answering `GET` on any
 * path: `200 { ok: true, tid, uti }` for a valid bearer token (signature
 * against `jwksUri`, `aud`, `exp`, `nbf`) that was not revoked; `401` with a
 * claims challenge (`error="insufficient_claims"`, `claims` = base64 of
 * `{"access_token":{"nbf":{"essential":true,"value":"<revocation time, s>"}}}`)
 * for a revoked one; with `tenantId`, a tenant challenge for another tenant's token; `401` `error="invalid_token"`
 * for any other.
 */
export async function startCaeResource(options: CaeResourceOptions): Promise<CaeResource> {
  const jwks = createRemoteJWKSet(new URL(options.jwksUri));
  const seen = new Set<string>();
  const revoked = new Set<string>();
  let revokedAt = 0;
  let requests = 0;
  let challenges = 0;
  let tenantChallenges = 0;
  let lastClaims: string | undefined;

  const loopback = await listenOnLoopback(async (req, res) => {
    requests += 1;
    req.resume();
    const refuse = (attributes: string): void =>
      sendJson(res, 401, { error: 'unauthorized' }, { 'www-authenticate': `Bearer authorization_uri="${options.authorizationUri}", ${attributes}` });
    const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(req.headers.authorization ?? '');
    if (match === null) return refuse('error="invalid_request"');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1]!, jwks, { audience: options.audience, requiredClaims: ['exp', 'uti'] }));
    } catch {
      return refuse('error="invalid_token"');
    }
    const uti = String(payload['uti']);
    if (revoked.has(uti)) {
      challenges += 1;
      lastClaims = JSON.stringify({ access_token: { nbf: { essential: true, value: String(revokedAt) } } });
      return refuse(`error="insufficient_claims", claims="${Buffer.from(lastClaims).toString('base64')}"`);
    }
    if (options.tenantId !== undefined && payload['tid'] !== options.tenantId) {
      tenantChallenges += 1;
      const uri = `https://login.microsoftonline.com/${options.tenantId}/oauth2/authorize`;
      return sendJson(res, 401, { error: 'unauthorized' }, { 'www-authenticate': `Bearer authorization_uri=${uri} resource_id=${options.audience}` });
    }
    seen.add(uti);
    sendJson(res, 200, { ok: true, tid: payload['tid'], uti });
  }, options.tls);

  return {
    url: loopback.origin,
    get requests() {
      return requests;
    },
    get challenges() {
      return challenges;
    },
    get tenantChallenges() {
      return tenantChallenges;
    },
    get lastClaims() {
      return lastClaims;
    },
    revokeAll() {
      revokedAt = Math.floor(Date.now() / 1000);
      for (const uti of seen) revoked.add(uti);
      seen.clear();
    },
    close: () => loopback.close(),
  };
}
