import type { KeyObject } from 'node:crypto';

/**
 * What a source (PEM text, PFX/PKCS#12 container) yields before any pairing
 * or validation: every private key and every certificate it holds, in the
 * order found. `localKeyId` is the PKCS#12 bag attribute (RFC 7292 §4.2) that
 * ties a key to its certificate, when present.
 */
export interface SourceContents {
  readonly keys: readonly SourceKey[];
  readonly certificates: readonly SourceCertificate[];
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
}

/**
 * Default cap on key-derivation iterations: 1,000,000. OpenSSL defaults to
 * 2,048 and OWASP recommends 600,000 PBKDF2-HMAC-SHA256 iterations (2023); the
 * cap admits both while bounding the CPU time a hostile file can demand (about
 * 1.5 s per derivation on one core of the reference machine).
 */
export const DEFAULT_MAX_ITERATIONS = 1_000_000;
