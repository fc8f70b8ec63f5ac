import { CredentialError, type CredentialErrorCode } from '@x/assertion';
import pkcs11js from 'pkcs11js';

/**
 * A {@link CredentialError} from `@x/pkcs11`, with what a PKCS#11 failure adds:
 * the `CKR_*` return value name, and for a malformed URI the attribute at fault.
 * Never carries the PIN: messages name attributes, not their values.
 */
export class Pkcs11CredentialError extends CredentialError {
  /** The PKCS#11 return value name (`CKR_PIN_INCORRECT`, …), when the module returned one. */
  readonly ckr: string | undefined;
  /** For `ERR_PKCS11_URI`: the URI attribute (or part: `scheme`, `path`, `query`) that is malformed. */
  readonly attribute: string | undefined;

  constructor(code: CredentialErrorCode, message: string, details: { ckr?: string; attribute?: string; cause?: unknown } = {}) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'Pkcs11CredentialError';
    this.ckr = details.ckr;
    this.attribute = details.attribute;
  }
}

const CKR_NAMES = new Map<number, string>(
  Object.entries(pkcs11js as unknown as Record<string, unknown>)
    .filter((entry): entry is [string, number] => entry[0].startsWith('CKR_') && typeof entry[1] === 'number')
    .map(([name, value]) => [value, name]),
);

/** The `CKR_*` name of an error thrown by pkcs11js, or `undefined` for any other error. */
export function ckrName(error: unknown): string | undefined {
  if (!(error instanceof pkcs11js.Pkcs11Error)) return undefined;
  return error.message.startsWith('CKR_') ? error.message : CKR_NAMES.get(error.code);
}

/** Wrap a pkcs11js failure as a {@link Pkcs11CredentialError} with `code`, keeping its `CKR_*` name. */
export function pkcs11Failure(code: CredentialErrorCode, message: string, cause: unknown): Pkcs11CredentialError {
  const ckr = ckrName(cause);
  return new Pkcs11CredentialError(code, ckr === undefined ? message : `${message} (${ckr})`, { ckr, cause });
}
