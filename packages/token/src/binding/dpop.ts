/**
 * DPoP proofs (RFC 9449) for one credential: an ephemeral key generated per credential, a fresh proof per
 * HTTP request: used by the token request (RFC 9449 §5, client.ts) and createAuthorizedFetch (§7.1).
 */
import type { JWK } from 'jose';
import { createHash, randomUUID } from 'node:crypto';

/** Algorithms allowed for the DPoP key (RFC 9449 §4.2 forbids symmetric ones and `none`). */
export type DpopAlgorithm = 'ES256' | 'EdDSA' | 'PS256';

/** Inputs of one proof (RFC 9449 §4.2). */
export interface DpopProofInput {
  /** HTTP method of the request, e.g. `POST`. */
  readonly htm: string;
  /** Target URI of the request; query and fragment are removed as §4.2 requires. */
  readonly htu: string;
  /** The access token the request presents; adds `ath` = base64url(SHA-256(token)) (§4.2, §7.1). */
  readonly accessToken?: string;
  /** The server's latest `DPoP-Nonce` (§8, §9). */
  readonly nonce?: string;
}

/** An ephemeral DPoP key: its public JWK, RFC 7638 thumbprint (`jkt`, the cache key part) and a proof maker. */
export interface DpopKey {
  readonly algorithm: DpopAlgorithm;
  readonly publicJwk: JWK;
  /** RFC 7638 SHA-256 JWK thumbprint, base64url; equals the token's `cnf.jkt` (RFC 9449 §6.1). */
  readonly jkt: string;
  /** Signs a fresh proof JWT (`typ: dpop+jwt`, new `jti`, `iat` = now in seconds). */
  createDpopProof(input: DpopProofInput): Promise<string>;
}

/** `ath` of RFC 9449 §4.2: base64url of the SHA-256 of the ASCII access token. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

/** `htu` without query and fragment (RFC 9449 §4.2). */
export function dpopTargetUri(url: string): string {
  const target = new URL(url);
  target.search = '';
  target.hash = '';
  return target.href;
}

/**
 * Generates a non-extractable ephemeral key pair (ES256 by default; EdDSA uses Ed25519, PS256 RSA 2048).
 * Throws jose's errors only if the platform lacks the algorithm.
 */
export async function generateDpopKey(algorithm: DpopAlgorithm = 'ES256'): Promise<DpopKey> {
  const { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } = await import('jose'); // loaded on first use: only DPoP needs it
  const { privateKey, publicKey } = await generateKeyPair(algorithm, algorithm === 'EdDSA' ? { crv: 'Ed25519' } : {});
  const { kty, crv, x, y, n, e } = await exportJWK(publicKey);
  const publicJwk = Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined)) as JWK;
  const jkt = await calculateJwkThumbprint(publicJwk, 'sha256');
  return {
    algorithm,
    publicJwk,
    jkt,
    createDpopProof({ htm, htu, accessToken, nonce }) {
      const claims: Record<string, string> = { htm: htm.toUpperCase(), htu: dpopTargetUri(htu) };
      if (accessToken !== undefined) claims.ath = accessTokenHash(accessToken);
      if (nonce !== undefined) claims.nonce = nonce;
      return new SignJWT(claims)
        .setProtectedHeader({ typ: 'dpop+jwt', alg: algorithm, jwk: publicJwk })
        .setJti(randomUUID())
        .setIssuedAt()
        .sign(privateKey);
    },
  };
}
