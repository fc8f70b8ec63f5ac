/**
 * Resource-server checks for sender-constrained access tokens: RFC 8705 §3 (certificate-bound, `cnf.x5t#S256`)
 * and RFC 9449 §4.3 (DPoP proof). Pure functions over bytes and strings; jose does the JWS work.
 *
 * @module
 */
import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto';
import { base64url, calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';

/** Why a binding check failed; stable codes for tests and logs. */
export type BindingErrorCode =
  | 'ERR_NO_CNF'
  | 'ERR_CERT_MISMATCH'
  | 'ERR_DPOP_INVALID'
  | 'ERR_DPOP_REPLAY'
  | 'ERR_DPOP_STALE'
  | 'ERR_DPOP_NONCE';

/** A failed binding check; never carries the token or proof. */
export class BindingError extends Error {
  constructor(readonly code: BindingErrorCode, message: string) {
    super(message);
    this.name = 'BindingError';
  }
}

/** x5t#S256 of a DER certificate: base64url(SHA-256(DER)) (RFC 8705 §3.1). */
export function certificateThumbprintS256(der: Uint8Array): string {
  return base64url.encode(createHash('sha256').update(der).digest());
}

function sameString(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * RFC 8705 §3: the token's `cnf["x5t#S256"]` must equal the thumbprint of the certificate the TLS client
 * presented (`tlsSocket.getPeerCertificate().raw`). Throws `BindingError` `ERR_NO_CNF` or `ERR_CERT_MISMATCH`.
 */
export function verifyCertificateBinding(cnf: unknown, presentedCertificateDer: Uint8Array | undefined): void {
  const expected = (cnf as { 'x5t#S256'?: unknown } | undefined)?.['x5t#S256'];
  if (typeof expected !== 'string') throw new BindingError('ERR_NO_CNF', 'token has no cnf.x5t#S256');
  if (presentedCertificateDer === undefined || presentedCertificateDer.length === 0) {
    throw new BindingError('ERR_CERT_MISMATCH', 'no client certificate presented');
  }
  new X509Certificate(presentedCertificateDer); // refuses bytes that are not a certificate
  if (!sameString(certificateThumbprintS256(presentedCertificateDer), expected)) {
    throw new BindingError('ERR_CERT_MISMATCH', 'client certificate does not match cnf.x5t#S256');
  }
}

/** What the resource knows about the request carrying a DPoP proof (RFC 9449 §4.3). */
export interface DpopCheck {
  readonly proof: string;
  readonly htm: string;
  /** The request URI as the resource sees it; query and fragment are ignored. */
  readonly htu: string;
  /** The access token presented with `Authorization: DPoP`; requires a matching `ath`. */
  readonly accessToken?: string;
  /** The token's `cnf.jkt`; the proof key's RFC 7638 thumbprint must equal it. */
  readonly jkt?: string;
  /** The nonce the server demands, if any. */
  readonly nonce?: string;
  /** Accepted |now − iat|, in seconds. @defaultValue 300 */
  readonly iatWindowSeconds?: number;
  /** Records a `jti`; returns false when it was already seen (replay). Owned by the caller, per resource. */
  readonly rememberJti: (jti: string) => boolean;
  /** Current time in seconds since the epoch. @defaultValue Date.now() / 1000 */
  readonly nowSeconds?: number;
}

const DPOP_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'];

function stripUri(url: string): string {
  const target = new URL(url);
  target.search = '';
  target.hash = '';
  return target.href;
}

/**
 * Checks a DPoP proof as RFC 9449 §4.3 lists: one JWT with `typ: dpop+jwt`, an asymmetric `alg`, a public
 * `jwk` verifying the signature, `htm`/`htu` of this request, `iat` within the window, an unseen `jti`, `ath`
 * of the token, the demanded `nonce`, and the key thumbprint equal to `cnf.jkt`. Returns the proof key's jkt.
 * Throws `BindingError` with `ERR_DPOP_INVALID`, `ERR_DPOP_STALE`, `ERR_DPOP_REPLAY` or `ERR_DPOP_NONCE`.
 */
export async function verifyDpopProof(check: DpopCheck): Promise<string> {
  const invalid = (why: string): BindingError => new BindingError('ERR_DPOP_INVALID', `DPoP proof ${why}`);
  let header;
  try {
    header = decodeProtectedHeader(check.proof);
  } catch {
    throw invalid('is not a JWS');
  }
  if (header.typ !== 'dpop+jwt') throw invalid('typ is not dpop+jwt');
  if (typeof header.alg !== 'string' || !DPOP_ALGORITHMS.includes(header.alg)) throw invalid('alg not allowed');
  const jwk = header.jwk as JWK | undefined;
  if (jwk === undefined || 'd' in jwk || 'k' in jwk) throw invalid('jwk missing or not a public key');
  let payload;
  try {
    const key = await importJWK(jwk, header.alg);
    ({ payload } = await jwtVerify(check.proof, key, { typ: 'dpop+jwt', algorithms: [header.alg] }));
  } catch {
    throw invalid('signature or claims invalid');
  }
  if (payload.htm !== check.htm.toUpperCase()) throw invalid('htm mismatch');
  if (typeof payload.htu !== 'string' || stripUri(payload.htu) !== stripUri(check.htu)) throw invalid('htu mismatch');
  const now = check.nowSeconds ?? Date.now() / 1000;
  if (typeof payload.iat !== 'number' || Math.abs(now - payload.iat) > (check.iatWindowSeconds ?? 300)) {
    throw new BindingError('ERR_DPOP_STALE', 'DPoP proof iat outside the accepted window');
  }
  if (check.nonce !== undefined && payload.nonce !== check.nonce) {
    throw new BindingError('ERR_DPOP_NONCE', 'DPoP proof lacks the demanded nonce');
  }
  if (check.accessToken !== undefined) {
    const ath = base64url.encode(createHash('sha256').update(check.accessToken, 'ascii').digest());
    if (typeof payload.ath !== 'string' || !sameString(payload.ath, ath)) throw invalid('ath mismatch');
  }
  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  if (check.jkt !== undefined && !sameString(jkt, check.jkt)) throw invalid('key does not match cnf.jkt');
  if (typeof payload.jti !== 'string' || payload.jti.length === 0) throw invalid('has no jti');
  if (!check.rememberJti(payload.jti)) throw new BindingError('ERR_DPOP_REPLAY', 'DPoP proof jti replayed');
  return jkt;
}
