/**
 * A self-signed certificate and its key, written as a passphrase-protected
 * PFX in the encoding OpenSSL 3's `openssl pkcs12 -export` writes by default
 * (RFC 7292): key and certificate bags PBES2 (PBKDF2-HMAC-SHA256, 2048
 * iterations, AES-256-CBC), an HMAC-SHA256 MAC. The key pair, the signature
 * and every cipher come from node:crypto; node-forge only builds the ASN.1.
 * Used by `x-assertion create-certificate` and by the demo and examples
 * (`@x/cli/self-signed`).
 *
 * @module
 */
import {
  createCipheriv,
  createHash,
  createHmac,
  generateKeyPairSync,
  pbkdf2Sync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import forge from 'node-forge';

/** The key pairs `create-certificate` makes. */
export const KEY_KINDS = ['rsa-2048', 'rsa-3072', 'ec-p256'] as const;
/** One of {@link KEY_KINDS}. */
export type KeyKind = (typeof KEY_KINDS)[number];

/** OpenSSL 3's default iteration count for the PFX key derivations and the MAC (PKCS12_DEFAULT_ITER). */
const ITERATIONS = 2048;

/** What {@link createSelfSignedPfx} makes. */
export interface SelfSignedOptions {
  /** Subject (and issuer) attributes in order, most general first as in the encoding, e.g. `[['CN', 'my-daemon']]`. */
  readonly subject: ReadonlyArray<readonly [attribute: string, value: string]>;
  /** Protects the PFX (its bags and its MAC). */
  readonly passphrase: string;
  /** Validity from now (backdated by one minute for clock skew), in days. */
  readonly days: number;
  /** The key pair. Default `rsa-2048`. */
  readonly key?: KeyKind;
}

/** The result of {@link createSelfSignedPfx}. */
export interface SelfSignedPfx {
  /** The PFX / PKCS#12 file. */
  readonly pfx: Buffer;
  /** The certificate alone, DER. */
  readonly certificateDer: Buffer;
  /** The certificate alone, PEM. */
  readonly certificatePem: string;
  /** How the PFX is protected, in words. */
  readonly encoding: string;
}

const OID = {
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  localKeyId: '1.2.840.113549.1.9.21',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  hmacWithSHA256: '1.2.840.113549.2.9',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
  sha256: '2.16.840.1.101.3.4.2.1',
};

const { asn1 } = forge;
const { UNIVERSAL, CONTEXT_SPECIFIC } = asn1.Class;
type Node = forge.asn1.Asn1;
const seq = (...items: Node[]) => asn1.create(UNIVERSAL, asn1.Type.SEQUENCE, true, items);
const set = (...items: Node[]) => asn1.create(UNIVERSAL, asn1.Type.SET, true, items);
const oid = (id: string) => asn1.create(UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(id).getBytes());
const octets = (bytes: Buffer) => asn1.create(UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes.toString('binary'));
const integer = (n: number) => asn1.create(UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(n).getBytes());
const bitString = (bytes: Buffer) => asn1.create(UNIVERSAL, asn1.Type.BITSTRING, false, `\0${bytes.toString('binary')}`);
const nullValue = () => asn1.create(UNIVERSAL, asn1.Type.NULL, false, '');
const explicit = (tag: number, node: Node) => asn1.create(CONTEXT_SPECIFIC, tag, true, [node]);
const toDer = (node: Node) => Buffer.from(asn1.toDer(node).getBytes(), 'binary');
const fromDer = (bytes: Buffer) => asn1.fromDer(bytes.toString('binary'));

/**
 * Make a key pair and a self-signed X.509 v3 certificate for it (end entity:
 * basicConstraints CA:FALSE, keyUsage digitalSignature), and write both as a
 * PFX the way `openssl pkcs12 -export` (OpenSSL 3) does.
 *
 * @throws `Error` from node-forge for an attribute name it does not know (it knows CN, O, OU, C, L, ST, E)
 */
export function createSelfSignedPfx(options: SelfSignedOptions): SelfSignedPfx {
  const { privateKey, publicKey } =
    (options.key ?? 'rsa-2048') === 'ec-p256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: options.key === 'rsa-3072' ? 3072 : 2048 });
  const certificateDer = selfSignedCertificate(privateKey, publicKey, options);
  return {
    pfx: writePfx(privateKey, certificateDer, options.passphrase),
    certificateDer,
    certificatePem: `-----BEGIN CERTIFICATE-----\n${certificateDer.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`,
    encoding:
      `PKCS#12 as OpenSSL 3 writes it: key and certificate bags PBES2 (PBKDF2-HMAC-SHA256, ${ITERATIONS} iterations, AES-256-CBC), ` +
      'HMAC-SHA256 MAC',
  };
}

/** Certificate ::= { tbsCertificate, signatureAlgorithm, signature } (RFC 5280 §4.1), signed by node:crypto. */
function selfSignedCertificate(privateKey: KeyObject, publicKey: KeyObject, options: SelfSignedOptions): Buffer {
  const ec = privateKey.asymmetricKeyType === 'ec';
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  // ecdsa-with-SHA256 has no parameters; sha256WithRSAEncryption has NULL (RFC 5758 §3.2, RFC 4055 §5).
  const signatureAlgorithm = ec ? seq(oid(OID.ecdsaWithSHA256)) : seq(oid(OID.sha256WithRSAEncryption), nullValue());
  // node-forge fills in the OIDs and encodes the values of the name and the extensions; it never sees the key.
  const fields = forge.pki.createCertificate();
  fields.setSubject(options.subject.map(([shortName, value]) => ({ shortName, value })));
  fields.setExtensions([
    { name: 'basicConstraints', critical: true, cA: false },
    { name: 'keyUsage', critical: true, digitalSignature: true },
    // RFC 5280 §4.2.1.2 method (1) would hash the subjectPublicKey bits; any unique value is allowed: SHA-1 of the SPKI.
    { name: 'subjectKeyIdentifier', value: octets(createHash('sha1').update(spki).digest()) },
  ]);
  const name = forge.pki.distinguishedNameToAsn1(fields.subject);
  const extensions = (forge.pki as unknown as { certificateExtensionsToAsn1(e: unknown[]): Node }).certificateExtensionsToAsn1(fields.extensions);
  const now = Date.now();
  const validity = seq(utcOrGeneralized(new Date(now - 60_000)), utcOrGeneralized(new Date(now + options.days * 86_400_000)));
  const serial = Buffer.concat([Buffer.from([0x01]), randomBytes(15)]); // positive, 16 bytes (RFC 5280 §4.1.2.2: at most 20)
  const tbs = seq(
    explicit(0, integer(2)), // v3
    asn1.create(UNIVERSAL, asn1.Type.INTEGER, false, serial.toString('binary')),
    signatureAlgorithm,
    name,
    validity,
    name,
    fromDer(spki),
    extensions, // [3] EXPLICIT Extensions, tagged by node-forge
  );
  // ECDSA: the DER-encoded Ecdsa-Sig-Value X.509 wants (node's default dsaEncoding).
  const signature = sign('sha256', toDer(tbs), privateKey);
  return toDer(seq(tbs, ec ? seq(oid(OID.ecdsaWithSHA256)) : seq(oid(OID.sha256WithRSAEncryption), nullValue()), bitString(signature)));
}

/** Time ::= UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
function utcOrGeneralized(date: Date): Node {
  return date.getUTCFullYear() < 2050
    ? asn1.create(UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

/** PFX ::= { version 3, authSafe (data), macData } (RFC 7292 §4), OpenSSL 3's default choices. */
function writePfx(key: KeyObject, certificateDer: Buffer, passphrase: string): Buffer {
  const localKeyId = set(seq(oid(OID.localKeyId), set(octets(createHash('sha1').update(certificateDer).digest()))));
  const certBag = seq(oid(OID.certBag), explicit(0, seq(oid(OID.x509Certificate), explicit(0, octets(certificateDer)))), localKeyId);
  // Node (OpenSSL 3) writes the EncryptedPrivateKeyInfo with PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC, 2048 iterations.
  const encryptedKey = key.export({ format: 'der', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase });
  const keyBag = seq(oid(OID.pkcs8ShroudedKeyBag), explicit(0, fromDer(encryptedKey)), localKeyId);

  const { algorithm, ciphertext } = pbes2Encrypt(toDer(seq(certBag)), passphrase);
  const encryptedCertificates = seq(
    oid(OID.encryptedData),
    explicit(0, seq(integer(0), seq(oid(OID.data), algorithm, asn1.create(CONTEXT_SPECIFIC, 0, false, ciphertext.toString('binary'))))),
  );
  const plainKeys = seq(oid(OID.data), explicit(0, octets(toDer(seq(keyBag)))));
  const authSafe = toDer(seq(encryptedCertificates, plainKeys));

  // MAC (RFC 7292 §4, Appendix B): HMAC-SHA256 keyed by the PKCS#12 KDF (ID 3) — node-forge's KDF, with SHA-256.
  const macSalt = randomBytes(8);
  const macKey = forge.pkcs12.generateKey(passphrase, forge.util.createBuffer(macSalt.toString('binary')), 3, ITERATIONS, 32, forge.md.sha256.create());
  const mac = createHmac('sha256', Buffer.from(macKey.getBytes(), 'binary')).update(authSafe).digest();
  const macData = seq(seq(seq(oid(OID.sha256), nullValue()), octets(mac)), octets(macSalt), integer(ITERATIONS));

  return toDer(seq(integer(3), seq(oid(OID.data), explicit(0, octets(authSafe))), macData));
}

/** PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC (RFC 8018 §6.2), the password as UTF-8 (as OpenSSL 3). */
function pbes2Encrypt(plaintext: Buffer, passphrase: string): { algorithm: Node; ciphertext: Buffer } {
  const salt = randomBytes(8);
  const iv = randomBytes(16);
  const key = pbkdf2Sync(Buffer.from(passphrase, 'utf8'), salt, ITERATIONS, 32, 'sha256');
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const kdf = seq(oid(OID.pbkdf2), seq(octets(salt), integer(ITERATIONS), seq(oid(OID.hmacWithSHA256), nullValue())));
  const algorithm = seq(oid(OID.pbes2), seq(kdf, seq(oid(OID.aes256Cbc), octets(iv))));
  return { algorithm, ciphertext };
}
