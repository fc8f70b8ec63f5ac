/**
 * PKCS#11 modules, loaded and initialised once per module path.
 *
 * `C_Initialize` is process-wide by the PKCS#11 standard (v2.40 §5.4: a second
 * call returns `CKR_CRYPTOKI_ALREADY_INITIALIZED`), so two signers on the same
 * module must share one initialised library: this registry is that sharing,
 * reference-counted so the last `release` finalises and unloads it.
 *
 * @module
 */
import pkcs11js from 'pkcs11js';
import { ckrName, pkcs11Failure } from './errors.js';

/** An initialised module, shared by every signer that uses it. */
export interface Loaded {
  readonly library: pkcs11js.PKCS11;
  /**
   * Per slot, an HMAC of the PIN that last logged in successfully. Login state
   * is per token and application (PKCS#11 v2.40 §5.6), so once one signer has
   * logged in, `C_Login` answers `CKR_USER_ALREADY_LOGGED_IN` to any PIN: a
   * second signer's PIN is checked against this instead.
   */
  readonly verifiedPins: Map<bigint, Buffer>;
  references: number;
  /** Whether this process initialised it (and so must finalise it). */
  readonly owned: boolean;
}

const modules = new Map<string, Loaded>();

/** At exit, finalise what is still open (a signer never closed): synchronous, so it cannot hold the process. */
function finaliseAll(): void {
  for (const modulePath of [...modules.keys()]) {
    const known = modules.get(modulePath)!;
    known.references = 1;
    try {
      releaseModule(modulePath);
    } catch {
      // exiting anyway
    }
  }
}

/**
 * The initialised library at `modulePath`, one more reference to it.
 *
 * @throws {@link Pkcs11CredentialError} `ERR_PKCS11_MODULE` when the library cannot be loaded or initialised
 */
export function acquireModule(modulePath: string): Loaded {
  const known = modules.get(modulePath);
  if (known !== undefined) {
    known.references++;
    return known;
  }
  const library = new pkcs11js.PKCS11();
  try {
    library.load(modulePath);
  } catch (cause) {
    throw pkcs11Failure('ERR_PKCS11_MODULE', 'The PKCS#11 module (module-path) cannot be loaded: check the path and that it is a PKCS#11 library.', cause);
  }
  let owned = true;
  try {
    // Without OS locking, concurrent C_Sign calls from libuv's threads crash SoftHSM (field notes §6).
    library.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (cause) {
    if (ckrName(cause) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
      library.close();
      throw pkcs11Failure('ERR_PKCS11_MODULE', 'The PKCS#11 module (module-path) failed to initialise.', cause);
    }
    owned = false;
  }
  if (modules.size === 0) process.on('exit', finaliseAll);
  const loaded = { library, verifiedPins: new Map(), references: 1, owned };
  modules.set(modulePath, loaded);
  return loaded;
}

/** Drop one reference; the last one finalises (when this process initialised it) and unloads the library. */
export function releaseModule(modulePath: string): void {
  const known = modules.get(modulePath);
  if (known === undefined || --known.references > 0) return;
  modules.delete(modulePath);
  if (modules.size === 0) process.off('exit', finaliseAll);
  try {
    if (known.owned) known.library.C_Finalize();
  } finally {
    known.library.close();
  }
}
