import { X509Certificate, createHash, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import type { JWK } from 'jose';
import { CredentialError } from '../errors.js';

/** Key families this package signs with. Entra ID accepts RSA only. */
export type KeyType = 'RSA' | 'EC' | 'Ed25519';

/** Named curves supported for EC keys. */
export type NamedCurve = 'P-256' | 'P-384' | 'P-521';

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

const NAMED_CURVES: Record<string, NamedCurve> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

/**
 * Describe a public key: family, size in bits, curve. Throws for anything but
 * RSA (any size: strength is checked separately), EC P-256/P-384/P-521 and
 * Ed25519.
 *
 * @throws {@link CredentialError} `ERR_UNSUPPORTED_KEY`
 */
export function describeKey(key: KeyObject): { keyType: KeyType; keySize: number; curve?: NamedCurve } {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { keyType: 'RSA', keySize: details.modulusLength ?? 0 };
    case 'ec': {
      const curve = NAMED_CURVES[details.namedCurve ?? ''];
      if (!curve) {
        throw new CredentialError(
          'ERR_UNSUPPORTED_KEY',
          `EC curve ${details.namedCurve ?? '(unknown)'} is not supported: use P-256, P-384 or P-521.`,
        );
      }
      return { keyType: 'EC', keySize: curve === 'P-521' ? 521 : Number(curve.slice(2)), curve };
    }
    case 'ed25519':
      return { keyType: 'Ed25519', keySize: 256 };
    default:
      throw new CredentialError(
        'ERR_UNSUPPORTED_KEY',
        `Key type ${key.asymmetricKeyType ?? '(unknown)'} is not supported: use RSA (2048 bits or more), EC P-256/P-384/P-521 or Ed25519.`,
      );
  }
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
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(leaf);
    } catch (cause) {
      throw new CredentialError('ERR_MALFORMED', 'The certificate is not a valid DER X.509 certificate.', { cause });
    }
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
    const { keyType, keySize, curve } = describeKey(this.publicKey);
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

  /**
   * The default JWS algorithm for this key: PS256 for RSA (what current
   * Microsoft Entra ID documentation asks for), ES256/ES384/ES512 for EC by
   * curve, EdDSA for Ed25519.
   */
  get defaultAlgorithm(): JwsAlgorithm {
    return this.keyType === 'RSA'
      ? 'PS256'
      : this.keyType === 'Ed25519'
        ? 'EdDSA'
        : (({ 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }) as const)[this.curve!];
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

/** JWS algorithms this package signs with (RFC 7518 §3.1, RFC 8037). */
export type JwsAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

/** Thumbprints of a DER certificate: SHA-1 and SHA-256, base64url and upper-case hex. */
export function computeThumbprints(der: Uint8Array): Thumbprints {
  const sha1 = createHash('sha1').update(der).digest();
  const sha256 = createHash('sha256').update(der).digest();
  return Object.freeze({
    x5t: sha1.toString('base64url'),
    'x5t#S256': sha256.toString('base64url'),
    sha1Hex: sha1.toString('hex').toUpperCase(),
    sha256Hex: sha256.toString('hex').toUpperCase(),
  });
}

/**
 * A certificate with its private key: what {@link createClientAssertion}
 * signs with. The private key is reachable only through {@link privateKey};
 * `util.inspect`, `JSON.stringify` and error messages show the certificate
 * summary and never the key.
 */
export class CertificateCredential extends CertificateInfo {
  readonly #privateKey: KeyObject;

  /**
   * Prefer {@link loadCredential} / {@link loadCredentialFile}, which find the
   * leaf, validate the pair and the validity period.
   *
   * @param privateKey - a private `KeyObject` whose public half is the leaf's key
   * @param chain - DER certificates, leaf first
   */
  constructor(privateKey: KeyObject, chain: readonly Uint8Array[]) {
    super(chain);
    if (privateKey.type !== 'private') {
      throw new CredentialError('ERR_NO_PRIVATE_KEY', 'The key given is not a private key.');
    }
    this.#privateKey = privateKey;
  }

  /** The private key as a Node `KeyObject` (its material is never printed by Node). */
  get privateKey(): KeyObject {
    return this.#privateKey;
  }
}
