/**
 * The one error family of `@x/assertion`.
 *
 * Every failure this package reports is a {@link CredentialError} with a stable
 * {@link CredentialErrorCode}. Messages say what is wrong and what to do; they
 * never contain a passphrase, private key material or a signed assertion.
 * Messages from node-forge or OpenSSL are not copied into `message`; the
 * underlying error is kept as `cause`, reduced to its name, `code` and message.
 *
 * @module
 */

/** Stable error codes. Match on these, never on the message text. */
export const CredentialErrorCode = {
  /** The container is encrypted and no passphrase was given. */
  PASSPHRASE_REQUIRED: 'ERR_PASSPHRASE_REQUIRED',
  /** The passphrase does not open the container (MAC or decryption check failed). */
  BAD_PASSPHRASE: 'ERR_BAD_PASSPHRASE',
  /** The input holds certificates but no private key. */
  NO_PRIVATE_KEY: 'ERR_NO_PRIVATE_KEY',
  /** The input holds a private key but no certificate. */
  NO_CERTIFICATE: 'ERR_NO_CERTIFICATE',
  /** Without a private key, the bundle has no single end-entity certificate to call the leaf. */
  AMBIGUOUS_LEAF: 'ERR_AMBIGUOUS_LEAF',
  /** `requireIntegrity` was set and the PFX has no MAC protecting its contents. */
  NO_INTEGRITY: 'ERR_NO_INTEGRITY',
  /** No certificate in the input carries the public key of the private key. */
  KEY_MISMATCH: 'ERR_KEY_MISMATCH',
  /** The leaf certificate's `notAfter` is in the past. */
  CERT_EXPIRED: 'ERR_CERT_EXPIRED',
  /** The leaf certificate's `notBefore` is in the future. */
  CERT_NOT_YET_VALID: 'ERR_CERT_NOT_YET_VALID',
  /** An RSA key shorter than 2048 bits. */
  WEAK_KEY: 'ERR_WEAK_KEY',
  /** A key type other than RSA, EC P-256/P-384/P-521 or Ed25519, or an algorithm the key cannot make. */
  UNSUPPORTED_KEY: 'ERR_UNSUPPORTED_KEY',
  /** A well-formed container that uses a format or algorithm this package does not read. */
  UNSUPPORTED_FORMAT: 'ERR_UNSUPPORTED_FORMAT',
  /** Malformed, truncated or unrecognisable input (including base64 text where DER was expected). */
  MALFORMED: 'ERR_MALFORMED',
  /** A key-derivation iteration count above the cap (see `maxIterations`). */
  ITERATION_LIMIT: 'ERR_ITERATION_LIMIT',
  /** Options that fail validation. */
  INVALID_OPTIONS: 'ERR_INVALID_OPTIONS',
  /** A file could not be read. */
  FILE_READ: 'ERR_FILE_READ',
  /** An external signer failed or returned a signature of the wrong shape. */
  SIGNER_FAILED: 'ERR_SIGNER_FAILED',
  /** A PKCS#11 URI (RFC 7512) that does not parse, or names an attribute this package does not accept. */
  PKCS11_URI: 'ERR_PKCS11_URI',
  /** The PKCS#11 module (`module-path`) cannot be loaded or initialised. */
  PKCS11_MODULE: 'ERR_PKCS11_MODULE',
  /** No token (or more than one) matches the PKCS#11 URI's token attributes. */
  PKCS11_TOKEN_NOT_FOUND: 'ERR_PKCS11_TOKEN_NOT_FOUND',
  /** No private key (or more than one) matches the PKCS#11 URI's object attributes. */
  PKCS11_KEY_NOT_FOUND: 'ERR_PKCS11_KEY_NOT_FOUND',
  /** The token refused the PIN (`CKR_PIN_INCORRECT`). */
  PKCS11_PIN_INCORRECT: 'ERR_PKCS11_PIN_INCORRECT',
  /** The token's user PIN is locked after too many wrong attempts (`CKR_PIN_LOCKED`). */
  PKCS11_PIN_LOCKED: 'ERR_PKCS11_PIN_LOCKED',
} as const;

/** The union of all {@link CredentialErrorCode} values. */
export type CredentialErrorCode = (typeof CredentialErrorCode)[keyof typeof CredentialErrorCode];

/**
 * Thrown (or used to reject) by every function of `@x/assertion`.
 *
 * @example
 * ```ts
 * try { await loadCredentialFile('app.pfx', { passphrase }) }
 * catch (e) { if (e instanceof CredentialError && e.code === 'ERR_BAD_PASSPHRASE') … }
 * ```
 */
export class CredentialError extends Error {
  /** A stable, documented code from {@link CredentialErrorCode}. */
  readonly code: CredentialErrorCode;

  /**
   * @param code - the stable error code
   * @param message - what is wrong and what to do; must not contain secrets
   * @param options - `cause`: the underlying error. Only pass causes whose
   *   message cannot contain input material (OpenSSL and forge messages do not
   *   echo key bytes, but callers should prefer a sanitised cause anyway).
   */
  constructor(code: CredentialErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: sanitizeCause(options.cause) });
    this.name = 'CredentialError';
    this.code = code;
  }
}

/**
 * Reduce an arbitrary thrown value to an `Error` carrying only its name, its
 * `code` (if any) and its message, so no object holding key material or
 * passphrases survives in an error's `cause` chain.
 */
function sanitizeCause(cause: unknown): Error {
  if (cause instanceof CredentialError) return cause;
  const e = new Error(cause instanceof Error ? cause.message : String(cause));
  if (cause instanceof Error) e.name = cause.name;
  const code = (cause as { code?: unknown } | null)?.code;
  if (typeof code === 'string') (e as Error & { code?: string }).code = code;
  return e;
}

/** `true` when `e` is a {@link CredentialError}, optionally with the given code. */
export function isCredentialError(e: unknown, code?: CredentialErrorCode): e is CredentialError {
  return e instanceof CredentialError && (code === undefined || e.code === code);
}
