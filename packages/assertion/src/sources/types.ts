import type { KeyObject } from 'node:crypto';
import { CredentialError } from '../errors.js';

/**
 * What a source (PEM text, PFX/PKCS#12 container) yields before any pairing
 * or validation: every private key and every certificate it holds, in the
 * order found. `localKeyId` is the PKCS#12 bag attribute (RFC 7292 §4.2) that
 * ties a key to its certificate, when present.
 */
export interface SourceContents {
  readonly keys: readonly SourceKey[];
  readonly certificates: readonly SourceCertificate[];
  /** PFX only: whether a verified MAC (PKCS#12 MAC or PBMAC1) protected the contents. */
  readonly integrity?: 'mac' | 'none';
}

export interface SourceKey {
  readonly key: KeyObject;
  readonly localKeyId?: Uint8Array;
}

export interface SourceCertificate {
  /** The certificate's DER encoding. */
  readonly der: Uint8Array;
  readonly localKeyId?: Uint8Array;
}

/** Limits applied to untrusted containers. */
export interface SourceLimits {
  /**
   * The highest key-derivation iteration count (PBKDF2, PKCS#12 KDF, MAC) a
   * container may demand. Default {@link DEFAULT_MAX_ITERATIONS}.
   */
  readonly maxIterations: number;
  /** PFX only: refuse a container without a MAC (`ERR_NO_INTEGRITY`). Default `false`. */
  readonly requireIntegrity?: boolean;
}

/**
 * Default cap on key-derivation iterations: 1,000,000. OpenSSL defaults to
 * 2,048 and OWASP recommends 600,000 PBKDF2-HMAC-SHA256 iterations (2023); the
 * cap admits both while bounding the CPU time a hostile file can demand (about
 * 1.5 s per derivation on one core of the reference machine).
 */
export const DEFAULT_MAX_ITERATIONS = 1_000_000;

/**
 * Largest input read: 256 KiB of PEM text, PFX bytes or file (and the longest
 * JWT verified). A credential is a few kilobytes (a PFX with a chain of five
 * 4096-bit certificates is about 10 KB); the cap bounds the time hostile
 * input can spend in the synchronous ASN.1 and PEM parsers (about 30 ms for
 * 256 KiB of the smallest ASN.1 values on the reference machine).
 */
export const MAX_INPUT_BYTES = 256 * 1024;

/**
 * Most certificates one input may hold: 100, OpenSSL's default maximum
 * verification depth. Each certificate is parsed and compared with the key
 * on the calling thread.
 */
export const MAX_CERTIFICATES = 100;

/**
 * Most private keys one input may hold, and most password-based derivations
 * (encrypted contents and encrypted keys, besides the MAC) one PKCS#12 file
 * may demand: {@link SourceLimits.maxIterations} bounds one derivation, this
 * bounds how many a file can ask for.
 */
export const MAX_KEYS = 16;

/**
 * Refuse more than {@link MAX_CERTIFICATES} certificates or {@link MAX_KEYS}
 * keys, before any is parsed.
 *
 * @throws {@link CredentialError} `ERR_MALFORMED`
 */
export function checkCounts(certificates: number, keys: number): void {
  if (certificates > MAX_CERTIFICATES) {
    throw new CredentialError('ERR_MALFORMED', `The input holds ${certificates} certificates; a credential has at most ${MAX_CERTIFICATES}.`);
  }
  if (keys > MAX_KEYS) throw new CredentialError('ERR_MALFORMED', `The input holds ${keys} private keys; a credential has at most ${MAX_KEYS}.`);
}
