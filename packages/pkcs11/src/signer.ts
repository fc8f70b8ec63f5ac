/**
 * `openPkcs11Signer`: an `@x/assertion` external signer whose private key
 * stays in a PKCS#11 token (PKCS#11 v2.40 base specification and current
 * mechanisms, OASIS).
 *
 * @module
 */
import { createHash, createHmac, randomBytes, timingSafeEqual, verify } from 'node:crypto';
import { CredentialError, loadCertificate, readCredentialFile, type CertificateInfo, type ExternalSigner, type JwsAlgorithm } from '@x/assertion';
import pkcs11js from 'pkcs11js';
import { ckrName, Pkcs11CredentialError, pkcs11Failure } from './errors.js';
import { acquireModule, releaseModule, type Loaded } from './module.js';
import { SessionPool } from './pool.js';
import { parsePkcs11Uri, readPin, type Pkcs11Uri } from './uri.js';

type Handle = Buffer;

/** Options of {@link openPkcs11Signer}. */
export interface Pkcs11SignerOptions {
  /** The PKCS#11 module, when the URI has no `module-path`. */
  readonly modulePath?: string;
  /** The user PIN, when the URI has no `pin-value` / `pin-source`. */
  readonly pin?: string;
  /**
   * A certificate file (PEM or DER) to use instead of the token's
   * `CKO_CERTIFICATE` object; checked against the key (`ERR_KEY_MISMATCH`).
   */
  readonly certificatePath?: string;
  /** The most sessions signing at once, 1 to 64. Default 4. */
  readonly sessions?: number;
}

/** An {@link ExternalSigner} backed by a PKCS#11 private key, plus `close()`. */
export interface Pkcs11Signer extends ExternalSigner {
  /** The certificate of the key, parsed. */
  readonly certificate: CertificateInfo;
  /** The URI the key was opened with (no PIN). */
  readonly uri: Pkcs11Uri;
  /**
   * Sign `signingInput` (the JWS signing input) in the token: RS256/384/512
   * (`CKM_SHAx_RSA_PKCS`), PS256/384/512 (`CKM_SHAx_RSA_PKCS_PSS`, MGF1 with the
   * same hash, salt = hash length), ES256/384/512 (`CKM_ECDSA` over the digest;
   * PKCS#11 returns the raw `r || s` that JWS uses, RFC 7518 §3.4).
   *
   * @throws {@link Pkcs11CredentialError} `ERR_INVALID_OPTIONS` (an algorithm the key cannot make),
   *   `ERR_SIGNER_FAILED` (closed signer, or the token failed; `ckr` names why)
   */
  sign(signingInput: Uint8Array, algorithm: JwsAlgorithm): Promise<Uint8Array>;
  /** Close every session and release the module (finalised when no other signer uses it). Idempotent. */
  close(): Promise<void>;
}

interface MechanismSpec {
  readonly keyType: 'RSA' | 'EC';
  readonly mechanism: pkcs11js.Mechanism;
  /** Hash applied here first (CKM_ECDSA signs a digest), or undefined when the mechanism hashes. */
  readonly digest?: string;
  readonly curve?: string;
}

const pss = (hash: number, mgf: number, saltLen: number): pkcs11js.Mechanism['parameter'] =>
  ({ type: pkcs11js.CK_PARAMS_RSA_PSS, hashAlg: hash, mgf, saltLen }) as pkcs11js.IParams;

/** JWS algorithm (RFC 7518 §3) → PKCS#11 mechanism. */
const MECHANISMS: Partial<Record<JwsAlgorithm, MechanismSpec>> = {
  RS256: { keyType: 'RSA', mechanism: { mechanism: pkcs11js.CKM_SHA256_RSA_PKCS } },
  RS384: { keyType: 'RSA', mechanism: { mechanism: pkcs11js.CKM_SHA384_RSA_PKCS } },
  RS512: { keyType: 'RSA', mechanism: { mechanism: pkcs11js.CKM_SHA512_RSA_PKCS } },
  PS256: { keyType: 'RSA', mechanism: { mechanism: pkcs11js.CKM_SHA256_RSA_PKCS_PSS, parameter: pss(pkcs11js.CKM_SHA256, pkcs11js.CKG_MGF1_SHA256, 32) } },
  PS384: { keyType: 'RSA', mechanism: { mechanism: pkcs11js.CKM_SHA384_RSA_PKCS_PSS, parameter: pss(pkcs11js.CKM_SHA384, pkcs11js.CKG_MGF1_SHA384, 48) } },
  PS512: { keyType: 'RSA', mechanism: { mechanism: pkcs11js.CKM_SHA512_RSA_PKCS_PSS, parameter: pss(pkcs11js.CKM_SHA512, pkcs11js.CKG_MGF1_SHA512, 64) } },
  ES256: { keyType: 'EC', curve: 'P-256', digest: 'sha256', mechanism: { mechanism: pkcs11js.CKM_ECDSA } },
  ES384: { keyType: 'EC', curve: 'P-384', digest: 'sha384', mechanism: { mechanism: pkcs11js.CKM_ECDSA } },
  ES512: { keyType: 'EC', curve: 'P-521', digest: 'sha512', mechanism: { mechanism: pkcs11js.CKM_ECDSA } },
};

/** Return values after which a fresh session (and login, and key look-up) may succeed: the token went away and back. */
const RECOVERABLE = new Set([
  'CKR_SESSION_HANDLE_INVALID', 'CKR_SESSION_CLOSED', 'CKR_USER_NOT_LOGGED_IN', 'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID', 'CKR_TOKEN_NOT_PRESENT', 'CKR_DEVICE_REMOVED',
]);

const KEY_CHECK_INPUT = Buffer.from('x-pkcs11-key-check');
/** Keys the PIN HMACs of {@link Loaded.verifiedPins}: random per process, so a record is useless outside it. */
const PIN_MAC_KEY = randomBytes(32);

/**
 * Open the private key named by a PKCS#11 URI (RFC 7512) as a signer for
 * `createClientAssertion` / `prepareClientAssertion` of `@x/assertion`.
 *
 * Loads and initialises the module once per path (`CKF_OS_LOCKING_OK`), finds
 * the one token and the one private key the URI names, logs in once, reads the
 * certificate (the token's `CKO_CERTIFICATE` with the key's `CKA_ID`, or
 * `options.certificatePath`) and proves it belongs to the key by a test
 * signature verified with the certificate's public key. Up to
 * `options.sessions` sessions sign concurrently; a session lost to
 * `CKR_SESSION_HANDLE_INVALID` or token removal is replaced once per call.
 *
 * @param uri - e.g. `pkcs11:token=daemon;object=client-key;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin`
 * @param options - see {@link Pkcs11SignerOptions}
 * @throws {@link Pkcs11CredentialError} with `ckr` set when the module returned a `CKR_*`:
 *   `ERR_PKCS11_URI` (malformed URI, `type` other than `private`, no module path),
 *   `ERR_PKCS11_MODULE`, `ERR_PKCS11_TOKEN_NOT_FOUND` (none or several tokens match),
 *   `ERR_PKCS11_KEY_NOT_FOUND` (none or several private keys match), `ERR_PKCS11_PIN_INCORRECT`
 *   (wrong or missing PIN), `ERR_PKCS11_PIN_LOCKED`, `ERR_NO_CERTIFICATE`, `ERR_KEY_MISMATCH`,
 *   `ERR_FILE_READ`, `ERR_INVALID_OPTIONS`, and the certificate errors of `loadCertificate`
 */
export async function openPkcs11Signer(uri: string, options: Pkcs11SignerOptions = {}): Promise<Pkcs11Signer> {
  const parsed = parsePkcs11Uri(uri);
  const sessions = options.sessions ?? 4;
  if (!Number.isInteger(sessions) || sessions < 1 || sessions > 64) {
    throw new Pkcs11CredentialError('ERR_INVALID_OPTIONS', 'sessions must be an integer from 1 to 64.');
  }
  if (parsed.type !== undefined && parsed.type !== 'private') {
    throw new Pkcs11CredentialError('ERR_PKCS11_URI', 'The PKCS#11 URI must name a private key ("type=private" or no type).', { attribute: 'type' });
  }
  const modulePath = parsed.modulePath ?? options.modulePath;
  if (modulePath === undefined) {
    throw new Pkcs11CredentialError('ERR_PKCS11_URI', 'No PKCS#11 module: add "module-path=/path/to/module.so" to the URI query, or options.modulePath.', {
      attribute: 'module-path',
    });
  }
  const pin = parsed.hasPin ? await readPin(parsed) : options.pin;
  // DER, or PEM as UTF-8: loadCertificate tells them apart.
  const certificateFile = options.certificatePath === undefined ? undefined : loadCertificate(await readCredentialFile(options.certificatePath));

  const token = new Token(acquireModule(modulePath), parsed, pin, sessions);
  try {
    await token.open();
    const candidates = checkKey(token, certificateFile === undefined ? await token.certificates() : [certificateFile]);
    return new TokenSigner(token, parsed, await proveKey(token, candidates), modulePath);
  } catch (error) {
    token.close();
    releaseModule(modulePath);
    throw error instanceof CredentialError ? error : pkcs11Failure('ERR_SIGNER_FAILED', 'The PKCS#11 token failed while opening the key.', error);
  }
}

/** The candidates whose key type is the token key's (the proof by signature follows). */
function checkKey(token: Token, list: readonly CertificateInfo[]): CertificateInfo[] {
  if (list.length === 0) {
    throw new Pkcs11CredentialError(
      'ERR_NO_CERTIFICATE',
      'The token holds no X.509 certificate with the key\'s CKA_ID: import one with the same id, or give options.certificatePath.',
    );
  }
  const matching = list.filter((c) => c.keyType === token.keyType);
  if (matching.length === 0) {
    throw new Pkcs11CredentialError('ERR_KEY_MISMATCH', `The certificate has an ${list[0]!.keyType} key; the token key is ${token.keyType}.`);
  }
  return matching;
}

/**
 * Sign a fixed input in the token (RS256 for RSA, deterministic; ES* by curve) and verify it with each
 * candidate's public key: the first that verifies is the certificate.
 */
async function proveKey(token: Token, candidates: readonly CertificateInfo[]): Promise<CertificateInfo> {
  for (const certificate of candidates) {
    const algorithm: JwsAlgorithm = certificate.keyType === 'RSA' ? 'RS256' : certificate.defaultAlgorithm;
    const signature = await token.sign(KEY_CHECK_INPUT, algorithm, certificate);
    const key = algorithm.startsWith('ES') ? { key: certificate.publicKey, dsaEncoding: 'ieee-p1363' as const } : certificate.publicKey;
    if (verify(`sha${algorithm.slice(2)}`, KEY_CHECK_INPUT, key, signature)) return certificate;
  }
  throw new Pkcs11CredentialError('ERR_KEY_MISMATCH', 'The certificate does not belong to the private key in the token (a test signature did not verify).');
}

/** The public face: what `util.inspect` and `JSON.stringify` show is the URI (no PIN) and the certificate summary. */
class TokenSigner implements Pkcs11Signer {
  readonly certificate: CertificateInfo;
  readonly uri: Pkcs11Uri;
  readonly #token: Token;
  readonly #modulePath: string;
  #closed = false;

  constructor(token: Token, uri: Pkcs11Uri, certificate: CertificateInfo, modulePath: string) {
    this.#token = token;
    this.uri = uri;
    this.certificate = certificate;
    this.#modulePath = modulePath;
  }

  sign(signingInput: Uint8Array, algorithm: JwsAlgorithm): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new Pkcs11CredentialError('ERR_SIGNER_FAILED', 'The PKCS#11 signer is closed.'));
    return this.#token.sign(signingInput, algorithm, this.certificate);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#token.drain();
    this.#token.close();
    releaseModule(this.#modulePath);
  }

  toJSON(): Record<string, unknown> {
    return { uri: this.uri.toString(), certificate: this.certificate.toJSON(), closed: this.#closed };
  }
}

/** One token, one key, a pool of logged-in sessions. */
class Token {
  readonly #library: pkcs11js.PKCS11;
  readonly #verifiedPins: Map<bigint, Buffer>;
  readonly #uri: Pkcs11Uri;
  readonly #pin: string | undefined;
  readonly #pool: SessionPool<Handle>;
  #slot: Handle | undefined;
  #key: Handle | undefined;
  #keyId: Buffer | undefined;
  #keyType: 'RSA' | 'EC' | undefined;
  #recovering: Promise<void> | undefined;

  constructor({ library, verifiedPins }: Loaded, uri: Pkcs11Uri, pin: string | undefined, sessions: number) {
    this.#library = library;
    this.#verifiedPins = verifiedPins;
    this.#uri = uri;
    this.#pin = pin;
    this.#pool = new SessionPool<Handle>(sessions, () => this.#openSession(), (s) => library.C_CloseSession(s));
  }

  /** Find the slot, log in, find the key. */
  async open(): Promise<void> {
    this.#slot = this.#findSlot();
    const session = await this.#pool.acquire();
    try {
      this.#findKey(session);
    } finally {
      this.#pool.release(session, true);
    }
  }

  #findSlot(): Handle {
    const uri = this.#uri;
    let slots: Handle[];
    try {
      const info = this.#library.C_GetInfo();
      const version = `${info.libraryVersion.major}.${info.libraryVersion.minor}`;
      if (!matches(uri.libraryManufacturer, info.manufacturerID) || !matches(uri.libraryDescription, info.libraryDescription) ||
        (uri.libraryVersion !== undefined && uri.libraryVersion !== version && `${uri.libraryVersion}.0` !== version)) {
        throw new Pkcs11CredentialError('ERR_PKCS11_TOKEN_NOT_FOUND', 'The PKCS#11 module does not match the URI\'s library-* attributes.');
      }
      slots = this.#library.C_GetSlotList(true).filter((slot) => {
        if (uri.slotId !== undefined && slotNumber(slot) !== uri.slotId) return false;
        const slotInfo = this.#library.C_GetSlotInfo(slot);
        if (!matches(uri.slotManufacturer, slotInfo.manufacturerID) || !matches(uri.slotDescription, slotInfo.slotDescription)) return false;
        const token = this.#library.C_GetTokenInfo(slot);
        return matches(uri.token, token.label) && matches(uri.manufacturer, token.manufacturerID) &&
          matches(uri.serial, token.serialNumber) && matches(uri.model, token.model);
      });
    } catch (cause) {
      if (cause instanceof CredentialError) throw cause;
      throw pkcs11Failure('ERR_PKCS11_TOKEN_NOT_FOUND', 'Listing the PKCS#11 slots and tokens failed.', cause);
    }
    if (slots.length !== 1) {
      throw new Pkcs11CredentialError(
        'ERR_PKCS11_TOKEN_NOT_FOUND',
        slots.length === 0
          ? 'No token present matches the PKCS#11 URI (token, serial, slot-id, …): check the token label and that the token is inserted.'
          : `${slots.length} tokens match the PKCS#11 URI: add token=, serial= or slot-id= to pick one.`,
      );
    }
    return slots[0]!;
  }

  /** A new session, logged in (login state is per token and application: the first login serves every session). */
  #openSession(): Handle {
    const library = this.#library;
    let session: Handle;
    try {
      session = library.C_OpenSession(this.#slot!, pkcs11js.CKF_SERIAL_SESSION);
    } catch (cause) {
      throw pkcs11Failure('ERR_PKCS11_TOKEN_NOT_FOUND', 'Opening a session with the PKCS#11 token failed.', cause);
    }
    try {
      this.#login(session);
    } catch (error) {
      try {
        library.C_CloseSession(session);
      } catch {
        // the session is gone with the token
      }
      throw error instanceof CredentialError ? error : pkcs11Failure('ERR_PKCS11_TOKEN_NOT_FOUND', 'Reading the PKCS#11 token failed.', error);
    }
    return session;
  }

  #login(session: Handle): void {
    const info = this.#library.C_GetTokenInfo(this.#slot!);
    if ((info.flags & pkcs11js.CKF_LOGIN_REQUIRED) === 0) return;
    if (this.#pin === undefined) {
      throw new Pkcs11CredentialError('ERR_PKCS11_PIN_INCORRECT', 'The token needs a PIN: add pin-source=file:… to the PKCS#11 URI, or options.pin.');
    }
    const slot = slotNumber(this.#slot!);
    const mac = createHmac('sha256', PIN_MAC_KEY).update(this.#pin).digest();
    try {
      this.#library.C_Login(session, pkcs11js.CKU_USER, this.#pin);
      this.#verifiedPins.set(slot, mac);
    } catch (cause) {
      const ckr = ckrName(cause);
      if (ckr === 'CKR_USER_ALREADY_LOGGED_IN') {
        const verified = this.#verifiedPins.get(slot);
        // Logged in by another signer of this process: the PIN must be the one that logged in (fail closed).
        // Logged in by other code (no record): the module cannot tell, so the session serves.
        if (verified !== undefined && !timingSafeEqual(verified, mac)) {
          throw new Pkcs11CredentialError('ERR_PKCS11_PIN_INCORRECT', 'The PIN differs from the one the token is logged in with.');
        }
        return;
      }
      if (ckr === 'CKR_PIN_LOCKED') throw pkcs11Failure('ERR_PKCS11_PIN_LOCKED', 'The token\'s user PIN is locked: unlock it with the SO PIN.', cause);
      if (ckr === 'CKR_PIN_INCORRECT' || ckr === 'CKR_PIN_INVALID' || ckr === 'CKR_PIN_LEN_RANGE' || ckr === 'CKR_PIN_EXPIRED') {
        throw pkcs11Failure('ERR_PKCS11_PIN_INCORRECT', 'The token refused the PIN.', cause);
      }
      throw pkcs11Failure('ERR_SIGNER_FAILED', 'Logging in to the PKCS#11 token failed.', cause);
    }
  }

  #findKey(session: Handle): void {
    const library = this.#library;
    const template: pkcs11js.Template = [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }];
    if (this.#uri.object !== undefined) template.push({ type: pkcs11js.CKA_LABEL, value: this.#uri.object });
    if (this.#uri.id !== undefined) template.push({ type: pkcs11js.CKA_ID, value: Buffer.from(this.#uri.id) });
    const keys = findObjects(library, session, template);
    if (keys.length !== 1) {
      throw new Pkcs11CredentialError(
        'ERR_PKCS11_KEY_NOT_FOUND',
        keys.length === 0
          ? 'No private key in the token matches the PKCS#11 URI (object=, id=): check the label and id (pkcs11-tool --list-objects).'
          : `${keys.length} private keys match the PKCS#11 URI: add object= or id= to pick one.`,
      );
    }
    const [keyType, id] = library.C_GetAttributeValue(session, keys[0]!, [{ type: pkcs11js.CKA_KEY_TYPE }, { type: pkcs11js.CKA_ID }]);
    const type = ulong(keyType!.value);
    this.#keyType = type === pkcs11js.CKK_RSA ? 'RSA' : type === pkcs11js.CKK_EC ? 'EC' : undefined;
    if (this.#keyType === undefined) throw new Pkcs11CredentialError('ERR_UNSUPPORTED_KEY', 'The token key is neither RSA nor EC.');
    this.#key = keys[0]!;
    this.#keyId = id!.value;
  }

  /** The key's type (CKA_KEY_TYPE), once {@link open} found it. */
  get keyType(): 'RSA' | 'EC' | undefined {
    return this.#keyType;
  }

  /** The X.509 certificates in the token with the key's CKA_ID. */
  async certificates(): Promise<CertificateInfo[]> {
    if (this.#keyId === undefined || this.#keyId.length === 0) return [];
    const session = await this.#pool.acquire();
    try {
      return findObjects(this.#library, session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE },
        { type: pkcs11js.CKA_CERTIFICATE_TYPE, value: pkcs11js.CKC_X_509 },
        { type: pkcs11js.CKA_ID, value: this.#keyId },
      ]).map((object) => loadCertificate(new Uint8Array(this.#library.C_GetAttributeValue(session, object, [{ type: pkcs11js.CKA_VALUE }])[0]!.value)));
    } finally {
      this.#pool.release(session, true);
    }
  }

  async sign(signingInput: Uint8Array, algorithm: JwsAlgorithm, certificate: CertificateInfo): Promise<Uint8Array> {
    const spec = MECHANISMS[algorithm];
    if (spec === undefined || spec.keyType !== certificate.keyType || (spec.curve !== undefined && spec.curve !== certificate.curve)) {
      throw new Pkcs11CredentialError('ERR_INVALID_OPTIONS', `Algorithm ${algorithm} cannot be made with this ${certificate.keyType} key.`);
    }
    const input = Buffer.from(signingInput.buffer, signingInput.byteOffset, signingInput.byteLength);
    const data = spec.digest === undefined ? input : createHash(spec.digest).update(input).digest();
    const output = spec.keyType === 'RSA' ? certificate.keySize / 8 : 2 * Math.ceil(certificate.keySize / 8);
    for (let attempt = 0; ; attempt++) {
      await this.#recovering;
      const session = await this.#pool.acquire(); // rejects with a CredentialError (#openSession)
      try {
        this.#library.C_SignInit(session, spec.mechanism, this.#key!);
        const signature = await this.#library.C_SignAsync(session, data, Buffer.alloc(output));
        this.#pool.release(session, true);
        return new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength);
      } catch (cause) {
        const ckr = ckrName(cause);
        const recoverable = ckr !== undefined && RECOVERABLE.has(ckr);
        this.#pool.release(session, !recoverable);
        if (recoverable && attempt === 0) {
          await this.#recover();
          continue;
        }
        if (cause instanceof CredentialError) throw cause;
        throw pkcs11Failure('ERR_SIGNER_FAILED', `The PKCS#11 token failed to sign with ${algorithm}.`, cause);
      }
    }
  }

  /**
   * After the token went away: drop every idle session, find the token again (a re-inserted token may sit in
   * another slot; absent, this rejects with `ERR_PKCS11_TOKEN_NOT_FOUND`), then a fresh session, login and key
   * handle. One at a time.
   */
  #recover(): Promise<void> {
    this.#recovering ??= (async () => {
      this.#pool.discardIdle();
      await this.open();
    })().finally(() => {
      this.#recovering = undefined;
    });
    return this.#recovering;
  }

  /** Wait for signatures in flight. */
  drain(): Promise<void> {
    return this.#pool.drain();
  }

  close(): void {
    this.#pool.close();
  }
}

function findObjects(library: pkcs11js.PKCS11, session: Handle, template: pkcs11js.Template): Handle[] {
  library.C_FindObjectsInit(session, template);
  try {
    return library.C_FindObjects(session, 16);
  } finally {
    library.C_FindObjectsFinal(session);
  }
}

/** RFC 7512 §2.3: an attribute absent from the URI matches anything; CK_*_INFO strings are blank-padded. */
function matches(wanted: string | undefined, padded: string): boolean {
  return wanted === undefined || wanted === padded.replace(/[ \0]+$/, '');
}

/** A CK_ULONG as pkcs11js returns it (native-endian bytes: little-endian on the platforms Node supports for it). */
function ulongBig(bytes: Buffer): bigint {
  return bytes.length === 8 ? bytes.readBigUInt64LE() : BigInt(bytes.readUInt32LE());
}

function ulong(bytes: Buffer): number {
  return Number(ulongBig(bytes));
}

/** CK_SLOT_ID, as a number comparable with the URI's slot-id. */
const slotNumber = ulongBig;
