import { constants, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import { CredentialError } from './errors.js';

/** Key families this package signs with. Entra ID accepts RSA only. */
export type KeyType = 'RSA' | 'EC' | 'Ed25519';

/** Named curves supported for EC keys. */
export type NamedCurve = 'P-256' | 'P-384' | 'P-521';

/** JWS algorithms this package signs with (RFC 7518 §3.1, RFC 8037). */
export type JwsAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

/**
 * The one JWS algorithm table: what each key type (and EC curve) may sign
 * with, the default first. PS256 for RSA is what current Microsoft Entra ID
 * documentation asks for (`certificate-credentials`); RS256 is the older
 * Entra v1 choice. RFC 7518 §3.1, RFC 8037 §3.1.
 */
const TABLE: Readonly<Record<string, readonly JwsAlgorithm[]>> = {
  RSA: Object.freeze(['PS256', 'RS256', 'PS384', 'PS512', 'RS384', 'RS512'] as const),
  'EC P-256': Object.freeze(['ES256'] as const),
  'EC P-384': Object.freeze(['ES384'] as const),
  'EC P-521': Object.freeze(['ES512'] as const),
  Ed25519: Object.freeze(['EdDSA'] as const),
};

/** Every algorithm of the table, for option schemas. */
export const JWS_ALGORITHMS = ['PS256', 'RS256', 'PS384', 'PS512', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const satisfies readonly JwsAlgorithm[];

/** The key as messages name it: `RSA`, `EC P-256`, `Ed25519`. */
export function keyName(keyType: KeyType, curve?: NamedCurve): string {
  return keyType === 'EC' ? `EC ${curve ?? '(no curve)'}` : keyType;
}

/**
 * The JWS algorithms a key may sign with, the default first; empty for an EC
 * key without a supported curve.
 */
export function algorithmsForKey(keyType: KeyType, curve?: NamedCurve): readonly JwsAlgorithm[] {
  return TABLE[keyName(keyType, curve)] ?? [];
}

/**
 * Refuse an algorithm the key cannot make.
 *
 * @throws {@link CredentialError} `ERR_INVALID_OPTIONS`
 */
export function checkAlgorithm(keyType: KeyType, curve: NamedCurve | undefined, algorithm: JwsAlgorithm): void {
  const has = keyName(keyType, curve);
  if (TABLE[has]?.includes(algorithm)) return;
  const needs = Object.keys(TABLE).find((name) => TABLE[name]!.includes(algorithm)) ?? 'other';
  throw new CredentialError('ERR_INVALID_OPTIONS', `Algorithm ${algorithm} needs an ${needs} key; this certificate has an ${has} key.`);
}

/** Raw JWS signature length of the fixed-size algorithms (RFC 7518 §3.4: `r || s`, not DER; RFC 8037 §3.1). */
export const SIGNATURE_BYTES: Partial<Record<JwsAlgorithm, number>> = { ES256: 64, ES384: 96, ES512: 132, EdDSA: 64 };

/** `crypto.sign` digest and key input that produce JWS signature bytes for `algorithm` (RFC 7518 §3.3–3.5, RFC 8037 §3.1). */
export function signingParameters(key: KeyObject, algorithm: JwsAlgorithm): [digest: string | null, key: SignKeyObjectInput | KeyObject] {
  const digest = algorithm === 'EdDSA' ? null : `sha${algorithm.slice(2)}`;
  if (algorithm.startsWith('PS')) return [digest, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }];
  if (algorithm.startsWith('ES')) return [digest, { key, dsaEncoding: 'ieee-p1363' }];
  return [digest, key];
}
