/**
 * PKCS#11 URIs (RFC 7512) wherever a certificate file is accepted: the key
 * stays in the token and `@x/pkcs11` signs there. `@x/pkcs11` is an optional
 * peer dependency (it builds a native binding), loaded on first use.
 *
 * @module
 */
import { CredentialError, type CertificateInfo, type ExternalSigner } from '@x/assertion';

/** What this package uses of `@x/pkcs11`'s `Pkcs11Signer` (its types are not a build dependency). */
export interface HardwareKey extends ExternalSigner {
  readonly certificate: CertificateInfo;
  readonly uri: { toString(): string };
  close(): Promise<void>;
}

/** Whether `path` is a PKCS#11 URI rather than a file path (RFC 7512 §2.3: the scheme is case-insensitive). */
export function isPkcs11Uri(path: string): boolean {
  return /^pkcs11:/i.test(path);
}

// A variable specifier: TypeScript does not resolve it, so @x/pkcs11 is needed only at run time, when used.
const PKCS11_PACKAGE = '@x/pkcs11';

/**
 * Open the key a PKCS#11 URI names, through `@x/pkcs11` (`openPkcs11Signer`).
 *
 * @throws `CredentialError` `ERR_PKCS11_MODULE` when `@x/pkcs11` is not installed, and every error of
 *   `openPkcs11Signer` (`ERR_PKCS11_URI`, `ERR_PKCS11_TOKEN_NOT_FOUND`, `ERR_PKCS11_KEY_NOT_FOUND`,
 *   `ERR_PKCS11_PIN_INCORRECT`, `ERR_PKCS11_PIN_LOCKED`, `ERR_KEY_MISMATCH`, …)
 */
export async function openPkcs11Key(uri: string): Promise<HardwareKey> {
  let pkcs11: { openPkcs11Signer(uri: string): Promise<HardwareKey> };
  try {
    pkcs11 = (await import(PKCS11_PACKAGE)) as typeof pkcs11;
  } catch (cause) {
    const code = (cause as { code?: unknown } | null)?.code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw cause;
    throw new CredentialError(
      'ERR_PKCS11_MODULE',
      'A pkcs11: URI needs the optional package @x/pkcs11 and its native binding pkcs11js (built at install with a C++ toolchain; ' +
        'pnpm builds it only when listed in onlyBuiltDependencies): install @x/pkcs11 next to @x/token.',
    );
  }
  return pkcs11.openPkcs11Signer(uri);
}

/**
 * A key in a PKCS#11 token as a credential source: opened on first use (one
 * open shared by concurrent callers, retried after a failure), then kept.
 */
export class Pkcs11KeySource {
  readonly #uri: string;
  #opening: Promise<HardwareKey> | undefined;
  #key: HardwareKey | undefined;

  constructor(uri: string) {
    this.#uri = uri;
  }

  current(): Promise<HardwareKey> {
    if (this.#key !== undefined) return Promise.resolve(this.#key);
    this.#opening ??= openPkcs11Key(this.#uri).then(
      (key) => (this.#key = key),
      (error: unknown) => {
        this.#opening = undefined;
        throw error;
      },
    );
    return this.#opening;
  }

  /** The URI without its PIN (known once opened) and the certificate summary. */
  toJSON(): unknown {
    return { uri: this.#key === undefined ? 'pkcs11:…' : String(this.#key.uri), certificate: this.#key?.certificate.toJSON() };
  }
}
