import { createHash, sign, type KeyObject, type X509Certificate } from 'node:crypto';
import { inspect } from 'node:util';
import type { JWK } from 'jose';
import { algorithmsForKey, checkAlgorithm, signingParameters, type JwsAlgorithm, type KeyType, type NamedCurve } from '../algorithms.js';
import { CredentialError } from '../errors.js';
import { parseCertificate } from '../sources/pem.js';

/**
 * Certificate thumbprints over the leaf certificate's DER encoding.
 * `x5t` / `x5t#S256` are the JWS header values (RFC 7515 §4.1.7, §4.1.8):
 * base64url of the SHA-1 / SHA-256 digest bytes, never of a hex string.
 * The hex forms are upper case, as the Azure portal and `openssl x509
 * -fingerprint` show them (without colons).
 */
export interface Thumbprints {
  readonly x5t: string;
  readonly 'x5t#S256': string;
  readonly sha1Hex: string;
  readonly sha256Hex: string;
}

/** A public JWK with the certificate parameters of RFC 7517 §4.6–4.9. */
export type CertificateJwk = JWK & {
  kid: string;
  use: 'sig';
  alg: string;
  x5t: string;
  'x5t#S256': string;
  x5c: string[];
};

/** The supported EC curves by OpenSSL name, with their size in bits. */
const NAMED_CURVES: ReadonlyMap<string, readonly [NamedCurve, number]> = new Map([
  ['prime256v1', ['P-256', 256]],
  ['secp384r1', ['P-384', 384]],
  ['secp521r1', ['P-521', 521]],
]);

/**
 * A public key's family, size in bits and curve: RSA (any size: strength is
 * checked by the load policy), EC P-256/P-384/P-521 or Ed25519.
 *
 * @throws {@link CredentialError} `ERR_UNSUPPORTED_KEY`
 */
function keyDetails(key: KeyObject): { keyType: KeyType; keySize: number; curve?: NamedCurve } {
  const { modulusLength = 0, namedCurve = '(unknown)' } = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') return { keyType: 'RSA', keySize: modulusLength };
  if (key.asymmetricKeyType === 'ed25519') return { keyType: 'Ed25519', keySize: 256 };
  if (key.asymmetricKeyType !== 'ec') {
    throw new CredentialError(
      'ERR_UNSUPPORTED_KEY',
      `Key type ${key.asymmetricKeyType ?? '(unknown)'} is not supported: use RSA (2048 bits or more), EC P-256/P-384/P-521 or Ed25519.`,
    );
  }
  const [curve, keySize] = NAMED_CURVES.get(namedCurve) ?? [];
  if (!curve) throw new CredentialError('ERR_UNSUPPORTED_KEY', `EC curve ${namedCurve} is not supported: use P-256, P-384 or P-521.`);
  return { keyType: 'EC', keySize: keySize!, curve };
}

/**
 * An X.509 certificate (and its chain) with what client authentication needs
 * from it: thumbprints, validity, public key and JWK. Holds no private key.
 *
 * Build one with {@link loadCertificate}; a {@link CertificateCredential} is
 * one of these plus the private key.
 */
export class CertificateInfo {
  /** The leaf certificate as Node parses it. */
  readonly x509: X509Certificate;
  /** DER of every certificate, leaf first, then the rest in input order. */
  readonly chain: readonly Uint8Array[];
  /** Subject distinguished name, one `attr=value` per line as Node prints it. */
  readonly subject: string;
  readonly issuer: string;
  /** Serial number, upper-case hex. */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly keyType: KeyType;
  /** Key size in bits (RSA modulus length; EC curve size; 256 for Ed25519). */
  readonly keySize: number;
  readonly curve: NamedCurve | undefined;
  readonly thumbprints: Thumbprints;
  readonly publicKey: KeyObject;

  /**
   * @param chain - DER certificates, leaf first (at least one)
   * @throws {@link CredentialError} `ERR_MALFORMED` when the leaf is not a certificate,
   *   `ERR_UNSUPPORTED_KEY` for an unsupported public key
   */
  constructor(chain: readonly Uint8Array[]) {
    const leaf = chain[0];
    if (!leaf) throw new CredentialError('ERR_NO_CERTIFICATE', 'No certificate was given.');
    const x509 = parseCertificate(leaf);
    this.x509 = x509;
    this.chain = Object.freeze(chain.map((der) => new Uint8Array(der)));
    // Node parses some fields lazily: a damaged public key or time throws (or
    // gives an Invalid Date) only when read.
    try {
      this.subject = x509.subject;
      this.issuer = x509.issuer;
      this.serialNumber = x509.serialNumber.toUpperCase();
      this.notBefore = new Date(x509.validFrom);
      this.notAfter = new Date(x509.validTo);
      this.publicKey = x509.publicKey;
    } catch (cause) {
      throw new CredentialError('ERR_MALFORMED', 'The certificate is damaged: its public key or a field could not be decoded.', { cause });
    }
    if (Number.isNaN(this.notBefore.getTime()) || Number.isNaN(this.notAfter.getTime())) {
      throw new CredentialError('ERR_MALFORMED', 'The certificate is damaged: its validity period could not be decoded.');
    }
    const { keyType, keySize, curve } = keyDetails(this.publicKey);
    this.keyType = keyType;
    this.keySize = keySize;
    this.curve = curve;
    this.thumbprints = computeThumbprints(x509.raw);
  }

  /** The leaf certificate's DER. */
  get leaf(): Uint8Array {
    return this.chain[0]!;
  }

  /**
   * The default key id: the `x5t#S256` thumbprint. Used as `kid` in
   * {@link CertificateInfo.toJwk} so a server that selects keys by `kid`
   * (oidc-provider, Keycloak) finds the key an assertion names.
   */
  get kid(): string {
    return this.thumbprints['x5t#S256'];
  }

  /** The JWS algorithms this key may sign with, the default first (see {@link algorithmsForKey}). */
  get algorithms(): readonly JwsAlgorithm[] {
    return algorithmsForKey(this.keyType, this.curve);
  }

  /**
   * The default JWS algorithm for this key: PS256 for RSA (current Entra
   * documentation), ES256/ES384/ES512 for EC P-256/P-384/P-521, EdDSA for Ed25519.
   */
  get defaultAlgorithm(): JwsAlgorithm {
    return this.algorithms[0]!;
  }

  /**
   * The public JWK for registering this certificate with an authorization
   * server (RFC 7517 §4): key parameters plus `kid` (default {@link kid}),
   * `use: 'sig'`, `alg`, `x5t`, `x5t#S256` and `x5c` (standard base64 DER,
   * leaf first, RFC 7517 §4.7).
   *
   * @param options.kid - key id to publish; default the `x5t#S256` thumbprint
   * @param options.alg - `alg` member; default {@link defaultAlgorithm}
   */
  async toJwk(options: { kid?: string; alg?: JwsAlgorithm } = {}): Promise<CertificateJwk> {
    const { exportJWK } = await import('jose'); // loaded on first use: a daemon that only signs never needs it
    const jwk = await exportJWK(this.publicKey);
    return {
      ...jwk,
      kid: options.kid ?? this.kid,
      use: 'sig',
      alg: options.alg ?? this.defaultAlgorithm,
      x5t: this.thumbprints.x5t,
      'x5t#S256': this.thumbprints['x5t#S256'],
      x5c: this.chain.map((der) => Buffer.from(der).toString('base64')),
    };
  }

  /** A summary safe to log: no key material. */
  toJSON(): Record<string, unknown> {
    return {
      subject: this.subject,
      issuer: this.issuer,
      serialNumber: this.serialNumber,
      notBefore: this.notBefore.toISOString(),
      notAfter: this.notAfter.toISOString(),
      keyType: this.keyType,
      keySize: this.keySize,
      thumbprints: this.thumbprints,
    };
  }

  [inspect.custom](): string {
    return `${this.constructor.name} ${inspect(this.toJSON())}`;
  }
}

/** Thumbprints of a DER certificate: SHA-1 and SHA-256, base64url and upper-case hex. */
function computeThumbprints(der: Uint8Array): Thumbprints {
  const sha1 = createHash('sha1').update(der).digest();
  const sha256 = createHash('sha256').update(der).digest();
  return Object.freeze({
    x5t: sha1.toString('base64url'),
    'x5t#S256': sha256.toString('base64url'),
    sha1Hex: sha1.toString('hex').toUpperCase(),
    sha256Hex: sha256.toString('hex').toUpperCase(),
  });
}

/** The slot of a credential's prepared client assertions, keyed by option values; see `assertion/sign.ts`. */
export const PREPARED = Symbol('prepared client assertions');

/** Distinct option sets a credential keeps prepared; one is the common case (one client, one token endpoint). */
const MAX_PREPARED = 8;

/**
 * Whether a PFX's contents were protected by a verified MAC (PKCS#12 MAC or
 * PBMAC1, RFC 7292 §4, RFC 9579): `'mac'`, or `'none'` for a PFX without one
 * (anyone could have changed it). `undefined` for PEM, which has no MAC.
 */
export type Integrity = 'mac' | 'none' | undefined;

/**
 * A certificate with its private key: what {@link createClientAssertion}
 * signs with, and a `Signer` (`signer.ts`). The private key is reachable only through
 * {@link privateKey}; `util.inspect`, `JSON.stringify` and error messages show
 * the certificate summary and never the key.
 */
export class CertificateCredential extends CertificateInfo {
  readonly #privateKey: KeyObject;
  readonly #prepared = new Map<string, unknown>();
  readonly #parameters = new Map<JwsAlgorithm, ReturnType<typeof signingParameters>>();
  /** See {@link Integrity}. */
  readonly integrity: Integrity;

  /**
   * Prefer {@link loadCredential} / {@link loadCredentialFile}, which find the
   * leaf, validate the pair and the validity period.
   *
   * @param privateKey - a private `KeyObject` whose public half is the leaf's key
   * @param chain - DER certificates, leaf first
   * @param integrity - see {@link Integrity}
   * @throws {@link CredentialError} `ERR_NO_PRIVATE_KEY` for a key that is not private,
   *   and every code of {@link CertificateInfo}'s constructor
   */
  constructor(privateKey: KeyObject, chain: readonly Uint8Array[], integrity?: Integrity) {
    super(chain);
    if (privateKey.type !== 'private') {
      throw new CredentialError('ERR_NO_PRIVATE_KEY', 'The key given is not a private key.');
    }
    this.#privateKey = privateKey;
    this.integrity = integrity;
  }

  /** The private key as a Node `KeyObject` (its material is never printed by Node). */
  get privateKey(): KeyObject {
    return this.#privateKey;
  }

  /** `Signer.certificate`: the credential itself. */
  get certificate(): CertificateInfo {
    return this;
  }

  /**
   * `Signer.sign` on libuv's thread pool (`crypto.sign` with a
   * callback), so concurrent calls use every core.
   *
   * @param signingInput - the JWS signing input (RFC 7515 §5.1)
   * @returns the JWS signature bytes (RFC 7518 §3; raw `r || s` for ES)
   * @throws {@link CredentialError} `ERR_INVALID_OPTIONS` for an algorithm the key cannot make
   */
  sign(signingInput: Uint8Array, algorithm: JwsAlgorithm): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const [digest, key] = this.#signingParameters(algorithm);
      sign(digest, signingInput, key, (error, signature) => (error ? reject(error) : resolve(signature)));
    });
  }

  /**
   * {@link sign} on the calling thread: no thread-pool round trip, but the
   * event loop waits for the signature (≈ 0.3 ms for RSA-2048, ≈ 3 ms for RSA-4096).
   */
  signSync(signingInput: Uint8Array, algorithm: JwsAlgorithm): Uint8Array {
    const [digest, key] = this.#signingParameters(algorithm);
    return sign(digest, signingInput, key);
  }

  #signingParameters(algorithm: JwsAlgorithm): ReturnType<typeof signingParameters> {
    let parameters = this.#parameters.get(algorithm);
    if (parameters === undefined) {
      checkAlgorithm(this.keyType, this.curve, algorithm);
      this.#parameters.set(algorithm, (parameters = signingParameters(this.#privateKey, algorithm)));
    }
    return parameters;
  }

  /**
   * The value `make()` returned for `key` on this credential, made on first
   * use; `undefined` as key makes it every time. Holds at most
   * {@link MAX_PREPARED} values, dropping the oldest.
   */
  [PREPARED]<T>(key: string | undefined, make: () => T): T {
    if (key === undefined) return make();
    if (this.#prepared.has(key)) return this.#prepared.get(key) as T;
    const value = make();
    if (this.#prepared.size >= MAX_PREPARED) this.#prepared.delete(this.#prepared.keys().next().value!);
    this.#prepared.set(key, value);
    return value;
  }
}
