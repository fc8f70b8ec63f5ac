/**
 * Registered applications of the Entra-like server, and verification of
 * their client assertions as Microsoft Entra ID documents it.
 *
 * @internal
 * @module
 */
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { compactVerify, decodeJwt, decodeProtectedHeader } from 'jose';

import { CERTIFICATE_CREDENTIALS_DOC, EntraError } from './entra-errors.js';

/** Clock skew Entra allows on the assertion's `nbf` / `exp`, in seconds. */
export const SKEW_SECONDS = 300;
/** Signature algorithms Entra accepts for client assertions (RSA only). */
export const ASSERTION_ALGORITHMS = ['RS256', 'PS256'];

/** A registered certificate, indexed by its thumbprints. */
interface RegisteredCertificate {
  certificate: X509Certificate;
  publicKey: KeyObject;
}

/** An application as the server keeps it. */
export interface RegisteredClient {
  clientId: string;
  secret: string | undefined;
  /** `S256:<x5t#S256>` and `SHA1:<x5t>` → certificate. */
  byThumbprint: Map<string, RegisteredCertificate>;
  /** Stable object id of the service principal: `oid` / `sub` of its tokens. */
  objectId: string;
}

/**
 * Parses an application's certificates (PEM text, possibly several blocks,
 * or DER bytes) and indexes them by `x5t` and `x5t#S256`.
 */
export function registerClient(
  tenantId: string,
  client: { clientId: string; certificates: Array<string | Uint8Array>; secret?: string },
): RegisteredClient {
  if (typeof client.clientId !== 'string' || client.clientId === '') throw new TypeError('clientId must be a non-empty string');
  const byThumbprint = new Map<string, RegisteredCertificate>();
  for (const input of client.certificates) {
    for (const certificate of parseCertificates(input)) {
      const registered = { certificate, publicKey: certificate.publicKey };
      byThumbprint.set(`SHA1:${createHash('sha1').update(certificate.raw).digest('base64url')}`, registered);
      byThumbprint.set(`S256:${createHash('sha256').update(certificate.raw).digest('base64url')}`, registered);
    }
  }
  const digest = createHash('sha256').update(`${tenantId}\n${client.clientId}`).digest('hex');
  return {
    clientId: client.clientId,
    secret: client.secret,
    byThumbprint,
    objectId: `${digest.slice(0, 8)}-${digest.slice(8, 12)}-${digest.slice(12, 16)}-${digest.slice(16, 20)}-${digest.slice(20, 32)}`,
  };
}

function parseCertificates(input: string | Uint8Array): X509Certificate[] {
  if (typeof input !== 'string') return [new X509Certificate(Buffer.from(input))];
  const blocks = input.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (blocks === null) throw new TypeError('a certificate string must hold at least one PEM CERTIFICATE block');
  return blocks.map((block) => new X509Certificate(block));
}

/** Remembers used `jti` values per client until their assertion has expired. */
export class ReplayCache {
  readonly #seen = new Map<string, number>();

  /** Records `jti`; `false` if it was already used by this client. */
  use(clientId: string, jti: string, exp: number, nowMs: number): boolean {
    for (const [key, forgetAt] of this.#seen) if (forgetAt <= nowMs) this.#seen.delete(key);
    const key = `${clientId}\n${jti}`;
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, Math.max(exp * 1000, nowMs) + SKEW_SECONDS * 1000);
    return true;
  }
}

const invalid = (code: number, message: string): EntraError => new EntraError(401, 'invalid_client', code, message);

/**
 * Verifies a client assertion as Entra does, in this order: it parses; `alg`
 * is RS256/PS256 (5002738); `iss` = `sub` = client id (700021); the
 * certificate named by `x5t#S256`, else `x5t`, is registered and within its
 * validity (700027); the signature verifies (700027); `aud` is exactly
 * `audience` (700023); `exp` and `jti` are present (50027); `exp` / `nbf`
 * hold with 5 minutes of skew (700024); `jti` was not used before (50013).
 *
 * @throws {@link EntraError} (`invalid_client`, 401).
 */
export async function verifyAssertion(
  client: RegisteredClient,
  assertion: string,
  audience: string,
  now: Date,
  replay: ReplayCache,
): Promise<void> {
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(assertion) as Record<string, unknown>;
    claims = decodeJwt(assertion) as Record<string, unknown>;
  } catch {
    throw invalid(50027, 'JWT token is invalid or malformed.');
  }

  const alg = header['alg'];
  if (typeof alg !== 'string' || !ASSERTION_ALGORITHMS.includes(alg)) {
    throw invalid(
      5002738,
      `Invalid JWT token. '${String(alg)}' is not a supported signature algorithm. Supported signing algorithms are: '${ASSERTION_ALGORITHMS.join(', ')}'`,
    );
  }
  if (claims['iss'] !== client.clientId || claims['sub'] !== client.clientId) {
    throw invalid(
      700021,
      `Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at ${CERTIFICATE_CREDENTIALS_DOC}.`,
    );
  }

  const s256 = typeof header['x5t#S256'] === 'string' ? header['x5t#S256'] : undefined;
  const sha1 = typeof header['x5t'] === 'string' ? header['x5t'] : undefined;
  if (s256 === undefined && sha1 === undefined) {
    throw invalid(700027, `Client assertion failed signature validation. [Reason - No certificate thumbprint specified in token header (x5t#S256 or x5t).]`);
  }
  const registered =
    (s256 !== undefined ? client.byThumbprint.get(`S256:${s256}`) : undefined) ??
    (sha1 !== undefined ? client.byThumbprint.get(`SHA1:${sha1}`) : undefined);
  const used = Buffer.from(s256 ?? sha1 ?? '', 'base64url').toString('hex').toUpperCase();
  if (registered === undefined) {
    throw invalid(
      700027,
      `Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '${used}', ` +
        `Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${client.clientId}'.]`,
    );
  }
  const { certificate } = registered;
  if (Date.parse(certificate.validTo) < now.getTime() || Date.parse(certificate.validFrom) > now.getTime()) {
    throw invalid(
      700027,
      `Client assertion contains an invalid signature. [Reason - The key used is expired or not yet valid., Thumbprint of key used by client: '${used}', ` +
        `Found key 'Start=${certificate.validFrom}, End=${certificate.validTo}']`,
    );
  }
  try {
    await compactVerify(assertion, registered.publicKey, { algorithms: ASSERTION_ALGORITHMS });
  } catch {
    throw invalid(
      700027,
      `Client assertion contains an invalid signature. [Reason - Key was found, but use of the key to verify the signature failed., ` +
        `Thumbprint of key used by client: '${used}']`,
    );
  }

  if (claims['aud'] !== audience) {
    throw invalid(
      700023,
      `Client assertion audience claim does not match Realm issuer. Expected '${audience}', got ${JSON.stringify(claims['aud'])}. ` +
        `Review the documentation at ${CERTIFICATE_CREDENTIALS_DOC}.`,
    );
  }

  const { exp, nbf, jti } = claims;
  if (typeof exp !== 'number') throw invalid(50027, `JWT token is invalid or malformed. [Reason - the 'exp' claim is missing or not a number.]`);
  if (nbf !== undefined && typeof nbf !== 'number') {
    throw invalid(50027, `JWT token is invalid or malformed. [Reason - the 'nbf' claim is not a number.]`);
  }
  const nowSeconds = now.getTime() / 1000;
  if (nowSeconds > exp + SKEW_SECONDS || (nbf !== undefined && nowSeconds + SKEW_SECONDS < nbf)) {
    const iso = (s: number): string => new Date(s * 1000).toISOString();
    throw invalid(
      700024,
      `Client assertion is not within its valid time range. Current time: ${now.toISOString()}, ` +
        `assertion valid from ${nbf === undefined ? 'unspecified' : iso(nbf)}, expiry time of assertion ${iso(exp)}. ` +
        `Review the documentation at ${CERTIFICATE_CREDENTIALS_DOC}.`,
    );
  }
  if (typeof jti !== 'string' || jti === '') {
    throw invalid(50027, `JWT token is invalid or malformed. [Reason - the 'jti' claim is missing.]`);
  }
  if (!replay.use(client.clientId, jti, exp, now.getTime())) {
    throw invalid(50013, `Assertion is invalid: the client assertion with jti '${jti}' has already been used (replay).`);
  }
}
