import { SIGNATURE_BYTES, type JwsAlgorithm } from './algorithms.js';
import { CertificateCredential, CertificateInfo } from './credential/certificate.js';
import { loadCertificate } from './credential/load.js';
import { CredentialError } from './errors.js';

/**
 * The one signing seam: everything that signs an assertion — a loaded
 * {@link CertificateCredential}, an {@link ExternalSigner} (an HSM, a cloud
 * key vault, a PKCS#11 token) — is one of these.
 */
export interface Signer {
  /** The certificate whose key signs. */
  readonly certificate: CertificateInfo;
  /**
   * Sign the JWS signing input (RFC 7515 §5.1: ASCII of
   * `base64url(header) '.' base64url(payload)`) and return the JWS signature
   * bytes (RFC 7518 §3: PKCS#1 v1.5 / PSS bytes for RS and PS, raw `r || s`
   * for ES, 64 bytes for EdDSA).
   */
  sign(signingInput: Uint8Array, algorithm: JwsAlgorithm): Promise<Uint8Array>;
}

/**
 * A signer whose private key never enters this process (an HSM, a cloud key
 * vault). This package builds header and claims and asks `sign` for the
 * signature. {@link toSigner} makes it a {@link Signer}.
 */
export interface ExternalSigner {
  /**
   * The certificate: a {@link CertificateInfo} (from {@link loadCertificate};
   * parsed once), PEM text or DER bytes (the leaf found by {@link loadCertificate}).
   */
  readonly certificate: CertificateInfo | string | Uint8Array;
  /** As {@link Signer.sign}. */
  sign(signingInput: Uint8Array, algorithm: JwsAlgorithm): Promise<Uint8Array>;
}

/**
 * A {@link Signer} for a credential (itself) or an external signer, whose
 * certificate is parsed once here and whose signatures are checked for shape
 * (an ES signature must be raw `r || s`, not DER).
 *
 * @throws {@link CredentialError} as {@link loadCertificate} for an unreadable certificate;
 *   the signer's `sign` rejects with `ERR_SIGNER_FAILED` when the external signer fails
 *   or returns a signature of the wrong shape
 */
export function toSigner(source: CertificateCredential | ExternalSigner): Signer {
  if (source instanceof CertificateCredential) return source;
  const certificate = source.certificate instanceof CertificateInfo ? source.certificate : loadCertificate(source.certificate);
  return { certificate, sign: (signingInput, algorithm) => signExternally(source, signingInput, algorithm) };
}

async function signExternally(signer: ExternalSigner, signingInput: Uint8Array, algorithm: JwsAlgorithm): Promise<Uint8Array> {
  let signature: unknown;
  try {
    signature = await signer.sign(signingInput, algorithm);
  } catch (cause) {
    throw new CredentialError('ERR_SIGNER_FAILED', `The external signer failed to sign with ${algorithm}.`, { cause });
  }
  const expected = SIGNATURE_BYTES[algorithm];
  if (!(signature instanceof Uint8Array) || signature.length === 0 || (expected !== undefined && signature.length !== expected)) {
    throw new CredentialError(
      'ERR_SIGNER_FAILED',
      `The external signer returned no valid ${algorithm} signature${expected ? ` (expected ${expected} raw bytes, not DER)` : ''}.`,
    );
  }
  return signature;
}
