import { createPrivateKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { CredentialError } from '../errors.js';
import {
  CBC_CIPHERS,
  computeMac,
  decrypt,
  DecryptionFailed,
  toPassword,
  type CbcCipher,
  type EncryptionParams,
  type MacParams,
  type Password,
  type Pbkdf2Params,
  type Pbmac1Params,
  type Pkcs12PbeCipher,
} from './pbe.js';
import { digestSize, type DigestName } from './pkcs12-kdf.js';
import { MAX_CERTIFICATES, MAX_KEYS, type SourceCertificate, type SourceContents, type SourceKey, type SourceLimits } from './types.js';

/**
 * Read a PFX / PKCS#12 container (RFC 7292) into its private keys and
 * certificates.
 *
 * Untrusted bytes are handled in two phases. First the whole visible
 * structure is parsed (node-forge's ASN.1 reader, which accepts BER) and every
 * algorithm and iteration count is checked, before anything is derived.
 * Then, for each candidate password, the MAC is verified while the bags are
 * decrypted, concurrently (`pbe.ts`, `node:crypto`). Bags found inside
 * encrypted content are checked the same way before their own derivation.
 *
 * @module
 */

type Asn1 = forge.asn1.Asn1;
const { Class, Type } = forge.asn1;

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  localKeyId: '1.2.840.113549.1.9.21',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  pbmac1: '1.2.840.113549.1.5.14',
} as const;

/** MAC digests (RFC 7292 §4, RFC 8017 Appendix A.2.4). */
const DIGESTS: Readonly<Record<string, DigestName>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** HMAC PRFs of PBKDF2 and PBMAC1 (RFC 8018 Appendix B.1). */
const HMACS: Readonly<Record<string, DigestName>> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};

/** PBES2 encryption schemes (RFC 8018 Appendix B.2). */
const PBES2_CIPHERS: Readonly<Record<string, CbcCipher>> = {
  '2.16.840.1.101.3.4.1.2': 'aes-128-cbc',
  '2.16.840.1.101.3.4.1.22': 'aes-192-cbc',
  '2.16.840.1.101.3.4.1.42': 'aes-256-cbc',
  '1.2.840.113549.3.7': 'des-ede3-cbc',
};

/** PKCS#12 PBE schemes decrypted here (RFC 7292 Appendix C). */
const PKCS12_PBE: Readonly<Record<string, Pkcs12PbeCipher>> = {
  '1.2.840.113549.1.12.1.3': '3des',
  '1.2.840.113549.1.12.1.4': '2des',
  '1.2.840.113549.1.12.1.5': 'rc2-128',
  '1.2.840.113549.1.12.1.6': 'rc2-40',
};

/** PBES1 schemes (RFC 8018 §6.1): only in key bags, and left to OpenSSL. */
const PBES1 = new Set([
  '1.2.840.113549.1.5.1',
  '1.2.840.113549.1.5.3',
  '1.2.840.113549.1.5.4',
  '1.2.840.113549.1.5.6',
  '1.2.840.113549.1.5.10',
  '1.2.840.113549.1.5.11',
]);

/** Names of algorithms this module does not decrypt itself, for messages. */
const NAMES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.12.1.1': 'pbeWithSHAAnd128BitRC4',
  '1.2.840.113549.1.12.1.2': 'pbeWithSHAAnd40BitRC4',
  '1.2.840.113549.1.5.1': 'pbeWithMD2AndDES-CBC',
  '1.2.840.113549.1.5.3': 'pbeWithMD5AndDES-CBC',
  '1.2.840.113549.1.5.4': 'pbeWithMD2AndRC2-CBC',
  '1.2.840.113549.1.5.6': 'pbeWithMD5AndRC2-CBC',
  '1.2.840.113549.1.5.10': 'pbeWithSHA1AndDES-CBC',
  '1.2.840.113549.1.5.11': 'pbeWithSHA1AndRC2-CBC',
  '1.3.6.1.4.1.11591.4.11': 'scrypt',
  '1.2.840.113549.2.5': 'MD5',
  '1.3.14.3.2.7': 'DES-CBC',
  '1.2.840.113549.3.2': 'RC2-CBC',
  '1.2.392.200011.61.1.1.1.2': 'CAMELLIA-128-CBC',
  '1.2.392.200011.61.1.1.1.3': 'CAMELLIA-192-CBC',
  '1.2.392.200011.61.1.1.1.4': 'CAMELLIA-256-CBC',
};

/** A key bag whose scheme we do not run: OpenSSL decrypts the EncryptedPrivateKeyInfo. */
interface OpenSslDecryption {
  readonly scheme: 'openssl';
  /** The scheme, as messages name it. */
  readonly algorithm: string;
}

/** A SafeBag we use (RFC 7292 §4.2). */
type Bag =
  | { readonly type: 'key'; readonly pkcs8: Buffer; readonly localKeyId: Buffer | undefined }
  | {
      readonly type: 'shroudedKey';
      readonly encryption: EncryptionParams | OpenSslDecryption;
      /** The EncryptedPrivateKeyInfo, for OpenSSL. */
      readonly encryptedPkcs8: Buffer;
      readonly ciphertext: Buffer;
      readonly localKeyId: Buffer | undefined;
    }
  | { readonly type: 'cert'; readonly der: Buffer; readonly localKeyId: Buffer | undefined };

/** One ContentInfo of the AuthenticatedSafe (RFC 7292 §4.1). */
type Content =
  | { readonly type: 'plain'; readonly bags: readonly Bag[] }
  | { readonly type: 'encrypted'; readonly encryption: EncryptionParams; readonly ciphertext: Buffer };

/** A parsed PFX (RFC 7292 §4), nothing derived or decrypted yet. */
interface Pfx {
  /** The octets the MAC covers: the AuthenticatedSafe's encoding. */
  readonly authSafe: Buffer;
  readonly contents: readonly Content[];
  readonly mac: { readonly params: MacParams; readonly digest: Buffer } | undefined;
}

/**
 * Read every private key and every certificate of a PFX / PKCS#12 container
 * (RFC 7292), in file order, with their `localKeyId` attributes (RFC 7292
 * §4.2, PKCS#9 §5.5.8). No pairing or validation.
 *
 * Reads password-integrity mode with the classic MAC (RFC 7292 §4 and
 * Appendix B, HMAC-SHA-1/224/256/384/512), PBMAC1 (RFC 9579) or no MAC;
 * data and encryptedData contents (§4.1); keyBag, pkcs8ShroudedKeyBag,
 * certBag (x509Certificate) and nested safeContentsBag (§4.2), ignoring
 * others; PBES2 with PBKDF2 (HMAC-SHA-1…512) and AES-128/192/256-CBC or
 * DES-EDE3-CBC (RFC 8018 §6.2), the password as UTF-8; PKCS#12 PBE with
 * 3-key and 2-key triple DES, 128- and 40-bit RC2 (RFC 7292 Appendix C), the
 * password as BMPString. Key bags under other schemes OpenSSL knows (PBES1,
 * other PBES2 ciphers) are handed to OpenSSL.
 *
 * Without a passphrase, both the absent password and `""` are tried (they
 * differ for the PKCS#12 KDF, Appendix B.1); the MAC, or without one a
 * successful decryption, picks the one that opens the file.
 *
 * @param der - the container, DER or BER
 * @param passphrase - the password; `undefined` when none was given
 * @param limits - `maxIterations` caps every iteration count, checked before deriving anything;
 *   at most {@link MAX_KEYS} password-based derivations besides the MAC, {@link MAX_KEYS} keys and
 *   {@link MAX_CERTIFICATES} certificates, checked before decrypting or parsing them
 * @throws {@link CredentialError} `ERR_PASSPHRASE_REQUIRED`, `ERR_BAD_PASSPHRASE`,
 *   `ERR_MALFORMED`, `ERR_UNSUPPORTED_FORMAT`, `ERR_ITERATION_LIMIT`, `ERR_UNSUPPORTED_KEY`
 */
export async function parsePfx(der: Uint8Array, passphrase: string | undefined, limits: SourceLimits): Promise<SourceContents> {
  const pfx = readPfx(der, limits);
  for (const candidate of passphrase === undefined ? [undefined, ''] : [passphrase]) {
    const contents = await open(pfx, toPassword(candidate), limits);
    if (contents) return contents;
  }
  throw passphrase === undefined
    ? new CredentialError('ERR_PASSPHRASE_REQUIRED', 'The PKCS#12 file is protected by a password: give its passphrase.')
    : new CredentialError('ERR_BAD_PASSPHRASE', 'The passphrase does not open the PKCS#12 file: its MAC or decryption check failed.');
}

// ---------------------------------------------------------------------------
// Phase 2: derive, verify, decrypt

/** The contents under `password`, or `undefined` when the MAC or a decryption rejects it. */
async function open(pfx: Pfx, password: Password, limits: SourceLimits): Promise<SourceContents | undefined> {
  const [mac, contents] = await Promise.allSettled([verifyMac(pfx, password), readContents(pfx.contents, password, limits)]);
  if (mac.status === 'rejected') throw mac.reason;
  if (!mac.value) return undefined;
  if (contents.status === 'fulfilled') return contents.value;
  if (contents.reason instanceof DecryptionFailed) return undefined;
  throw contents.reason;
}

/** RFC 7292 §4 / RFC 9579 §3; `true` when there is no MAC. */
async function verifyMac(pfx: Pfx, password: Password): Promise<boolean> {
  if (pfx.mac === undefined) return true;
  const computed = await computeMac(pfx.mac.params, password, pfx.authSafe);
  return computed.length === pfx.mac.digest.length && timingSafeEqual(computed, pfx.mac.digest);
}

/**
 * Decrypt every content, concurrently; check what they hold against the caps;
 * then open every bag, concurrently. Results in file order.
 */
async function readContents(contents: readonly Content[], password: Password, limits: SourceLimits): Promise<SourceContents> {
  const bags = (
    await Promise.all(contents.map((content) => (content.type === 'plain' ? content.bags : decryptSafeContents(content, password, limits))))
  ).flat();
  checkBagCounts(contents, bags);
  const items = await Promise.all(bags.map((bag) => openBag(bag, password)));
  return {
    keys: items.filter((item): item is SourceKey => 'key' in item),
    certificates: items.filter((item): item is SourceCertificate => 'der' in item),
  };
}

async function decryptSafeContents(
  content: Extract<Content, { type: 'encrypted' }>,
  password: Password,
  limits: SourceLimits,
): Promise<readonly Bag[]> {
  const plaintext = await decrypt(content.encryption, content.ciphertext, password);
  let safeContents: Asn1;
  try {
    safeContents = parseDer(plaintext, 'SafeContents');
  } catch {
    throw new DecryptionFailed(); // the padding checked by chance under a wrong password
  }
  return readSafeContents(safeContents, limits);
}

async function openBag(bag: Bag, password: Password): Promise<SourceKey | SourceCertificate> {
  const localKeyId = bag.localKeyId && { localKeyId: bag.localKeyId };
  switch (bag.type) {
    case 'cert':
      return { der: bag.der, ...localKeyId };
    case 'key':
      return { key: privateKey(bag.pkcs8), ...localKeyId };
    case 'shroudedKey':
      return { key: await openShroudedKey(bag, password), ...localKeyId };
  }
}

async function openShroudedKey(bag: Extract<Bag, { type: 'shroudedKey' }>, password: Password): Promise<KeyObject> {
  if (bag.encryption.scheme === 'openssl') return decryptWithOpenSsl(bag.encryptedPkcs8, bag.encryption.algorithm, password);
  const pkcs8 = await decrypt(bag.encryption, bag.ciphertext, password);
  try {
    if (!isDerSequence(pkcs8)) throw new DecryptionFailed(); // the padding checked by chance under a wrong password
    return privateKey(pkcs8);
  } finally {
    pkcs8.fill(0);
  }
}

/** A PrivateKeyInfo (RFC 5208 §5) as a Node key. */
function privateKey(pkcs8: Buffer): KeyObject {
  try {
    return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw new CredentialError('ERR_UNSUPPORTED_KEY', 'A key bag of the PKCS#12 file holds a private key OpenSSL cannot read.', { cause });
  }
}

/** Key bags under a scheme OpenSSL knows and we do not run (PBES1, PBES2 with another cipher). */
function decryptWithOpenSsl(encryptedPkcs8: Buffer, algorithm: string, password: Password): KeyObject {
  try {
    return createPrivateKey({ key: encryptedPkcs8, format: 'der', type: 'pkcs8', passphrase: password.utf8 });
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'ERR_OSSL_EVP_UNSUPPORTED') throw unsupportedAlgorithm(algorithm, 'a private key', cause);
    throw new DecryptionFailed();
  }
}

/** A whole DER/BER SEQUENCE: what a correct decryption of a PrivateKeyInfo starts with. */
function isDerSequence(bytes: Buffer): boolean {
  if (bytes.length < 2 || bytes[0] !== 0x30) return false;
  const first = bytes[1]!;
  if (first < 0x80) return bytes.length === 2 + first; // short form
  if (first === 0x80) return true; // BER indefinite length
  const count = first & 0x7f; // long form: `count` length bytes follow
  if (count > 4 || bytes.length < 2 + count) return false;
  return bytes.length === 2 + count + bytes.readUIntBE(2, count);
}

// ---------------------------------------------------------------------------
// Phase 1: parse and check the structure (RFC 7292 §4)

/** PFX ::= SEQUENCE { version INTEGER {v3(3)}, authSafe ContentInfo, macData MacData OPTIONAL } */
function readPfx(der: Uint8Array, limits: SourceLimits): Pfx {
  checkIsBinary(der);
  const [version, authSafeInfo, macData] = sequence(parseDer(der, 'the file'), 'PFX', 2, 3);
  const v = integer(version!, 'PFX version');
  if (v !== 3) throw new CredentialError('ERR_UNSUPPORTED_FORMAT', `PKCS#12 version ${v} is not supported: only version 3 exists (RFC 7292).`);
  const { type, content } = contentInfo(authSafeInfo!, 'authSafe');
  if (type === OID.signedData) {
    throw new CredentialError('ERR_UNSUPPORTED_FORMAT', 'The PKCS#12 file uses public-key integrity mode (signedData), which is not supported.');
  }
  if (type !== OID.data) throw malformed(`the authSafe has content type ${type}, not data`);
  const authSafe = octets(content, 'authSafe content');
  const mac = macData && readMacData(macData, limits);
  const contents = sequence(parseDer(authSafe, 'the AuthenticatedSafe'), 'AuthenticatedSafe').map((info) => readContent(info, limits));
  checkBagCounts(contents, contents.flatMap((c) => (c.type === 'plain' ? c.bags : [])));
  return { authSafe, mac, contents };
}

/**
 * Bound the work a file can demand beyond one derivation's `maxIterations`:
 * at most {@link MAX_KEYS} password-based derivations (encrypted contents and
 * encrypted keys) besides the MAC, {@link MAX_KEYS} keys and
 * {@link MAX_CERTIFICATES} certificates. Run on the visible structure before
 * anything is derived, and again on the bags of decrypted contents before
 * their keys are derived.
 *
 * @throws {@link CredentialError} `ERR_ITERATION_LIMIT`, `ERR_MALFORMED`
 */
function checkBagCounts(contents: readonly Content[], bags: readonly Bag[]): void {
  const derivations = contents.filter((c) => c.type === 'encrypted').length + bags.filter((b) => b.type === 'shroudedKey').length;
  if (derivations > MAX_KEYS) {
    throw new CredentialError(
      'ERR_ITERATION_LIMIT',
      `The PKCS#12 file asks for ${derivations} password-based key derivations (encrypted contents and keys); the limit is ${MAX_KEYS}.`,
    );
  }
  const keys = bags.filter((b) => b.type !== 'cert').length;
  if (keys > MAX_KEYS) throw malformed(`it holds ${keys} private keys; a credential has at most ${MAX_KEYS}`);
  const certificates = bags.length - keys;
  if (certificates > MAX_CERTIFICATES) throw malformed(`it holds ${certificates} certificates; a credential has at most ${MAX_CERTIFICATES}`);
}

/** Refuse empty input, and say so when the bytes are text: base64 or PEM. */
function checkIsBinary(bytes: Uint8Array): void {
  if (bytes.length === 0) throw malformed('the file is empty');
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  if (/^\s*-----BEGIN /.test(text)) {
    throw new CredentialError('ERR_MALFORMED', 'The PKCS#12 file is PEM text, not DER: load it as PEM.');
  }
  if (/^[A-Za-z0-9+/=\s]+$/.test(text)) {
    throw new CredentialError('ERR_MALFORMED', 'The PKCS#12 file is not DER: this looks like base64 text; decode it to DER first (e.g. `base64 -d`).');
  }
}

/** MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 } */
function readMacData(node: Asn1, limits: SourceLimits): Pfx['mac'] {
  const [digestInfo, salt, iterations] = sequence(node, 'MacData', 2, 3);
  const [algorithmNode, digestNode] = sequence(digestInfo!, 'DigestInfo', 2, 2);
  const { oid: algorithm, params } = algorithmIdentifier(algorithmNode!, 'MAC algorithm');
  const digest = octets(digestNode!, 'MAC value');
  if (algorithm === OID.pbmac1) {
    // RFC 9579 §3: macSalt and iterations are not used with PBMAC1.
    const pbmac1 = readPbmac1(params, limits);
    return { params: pbmac1, digest: checkLength(digest, digestSize(pbmac1.hmac), 'MAC value') };
  }
  const hash = DIGESTS[algorithm];
  if (!hash) throw unsupportedAlgorithm(describe(algorithm), 'the MAC');
  return {
    params: {
      scheme: 'pkcs12-kdf',
      digest: hash,
      salt: octets(salt!, 'MAC salt'),
      iterations: checkIterations(iterations ? integer(iterations, 'MAC iterations') : 1, limits, 'the MAC'),
    },
    digest: checkLength(digest, digestSize(hash), 'MAC value'),
  };
}

/** PBMAC1-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, messageAuthScheme AlgorithmIdentifier } (RFC 8018 Appendix A.5) */
function readPbmac1(params: Asn1 | undefined, limits: SourceLimits): Pbmac1Params {
  const [kdfNode, macNode] = sequence(required(params, 'PBMAC1 parameters'), 'PBMAC1-params', 2, 2);
  const { keyLength, ...kdf } = readPbkdf2(kdfNode!, limits, 'the MAC');
  // RFC 9579 §3: the key length must be present.
  if (keyLength === undefined) throw malformed('the PBMAC1 key derivation has no key length (RFC 9579 §3 requires one)');
  const { oid } = algorithmIdentifier(macNode!, 'PBMAC1 message authentication scheme');
  const hmac = HMACS[oid];
  if (!hmac) throw unsupportedAlgorithm(describe(oid), 'the MAC');
  return { scheme: 'pbmac1', kdf, keyLength, hmac };
}

/** ContentInfo of the AuthenticatedSafe: data (plain SafeContents) or encryptedData (RFC 7292 §4.1). */
function readContent(node: Asn1, limits: SourceLimits): Content {
  const { type, content } = contentInfo(node, 'AuthenticatedSafe entry');
  switch (type) {
    case OID.data:
      return { type: 'plain', bags: readSafeContents(parseDer(octets(content, 'data content'), 'a SafeContents'), limits) };
    case OID.encryptedData:
      return readEncryptedData(content, limits);
    case OID.envelopedData:
      throw new CredentialError('ERR_UNSUPPORTED_FORMAT', 'The PKCS#12 file uses public-key privacy mode (envelopedData), which is not supported.');
    default:
      throw malformed(`an AuthenticatedSafe entry has content type ${type}`);
  }
}

/**
 * EncryptedData ::= SEQUENCE { version, encryptedContentInfo EncryptedContentInfo, … }
 * EncryptedContentInfo ::= SEQUENCE { contentType, contentEncryptionAlgorithm, encryptedContent [0] IMPLICIT OCTET STRING OPTIONAL }
 * (RFC 5652 §6.1, §8)
 */
function readEncryptedData(node: Asn1, limits: SourceLimits): Content {
  const [, info] = sequence(node, 'EncryptedData', 2, 3);
  const [, algorithm, encrypted] = sequence(info!, 'EncryptedContentInfo', 2, 3);
  const encryption = readEncryption(algorithm!, limits, 'certificates');
  if (encryption.scheme === 'openssl') throw unsupportedAlgorithm(encryption.algorithm, 'certificates');
  return { type: 'encrypted', encryption, ciphertext: octets(required(encrypted, 'encrypted content'), 'encrypted content', 0) };
}

/** SafeContents ::= SEQUENCE OF SafeBag (RFC 7292 §4.2) */
function readSafeContents(node: Asn1, limits: SourceLimits): Bag[] {
  return sequence(node, 'SafeContents').flatMap((bag) => readSafeBag(bag, limits));
}

/** SafeBag ::= SEQUENCE { bagId OID, bagValue [0] EXPLICIT ANY, bagAttributes SET OF PKCS12Attribute OPTIONAL } */
function readSafeBag(node: Asn1, limits: SourceLimits): Bag[] {
  const [id, wrapped, attributes] = sequence(node, 'SafeBag', 2, 3);
  const value = explicit(wrapped!, 0, 'SafeBag value');
  const localKeyId = attributes && readLocalKeyId(attributes);
  switch (oid(id!, 'SafeBag type')) {
    case OID.keyBag:
      return [{ type: 'key', pkcs8: toDer(value), localKeyId }];
    case OID.pkcs8ShroudedKeyBag:
      return [readShroudedKeyBag(value, localKeyId, limits)];
    case OID.certBag:
      return readCertBag(value, localKeyId);
    case OID.safeContentsBag:
      return readSafeContents(value, limits);
    default:
      return []; // CRL, secret and unknown bags carry nothing we use
  }
}

/** EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData OCTET STRING } (RFC 5208 §6) */
function readShroudedKeyBag(value: Asn1, localKeyId: Buffer | undefined, limits: SourceLimits): Bag {
  const [algorithm, data] = sequence(value, 'EncryptedPrivateKeyInfo', 2, 2);
  return {
    type: 'shroudedKey',
    encryption: readEncryption(algorithm!, limits, 'a private key'),
    encryptedPkcs8: toDer(value),
    ciphertext: octets(data!, 'encrypted private key'),
    localKeyId,
  };
}

/** CertBag ::= SEQUENCE { certId OID, certValue [0] EXPLICIT ANY }; only x509Certificate (an OCTET STRING of DER) is kept. */
function readCertBag(value: Asn1, localKeyId: Buffer | undefined): Bag[] {
  const [id, wrapped] = sequence(value, 'CertBag', 2, 2);
  if (oid(id!, 'certificate type') !== OID.x509Certificate) return [];
  return [{ type: 'cert', der: octets(explicit(wrapped!, 0, 'CertBag value'), 'certificate'), localKeyId }];
}

/** The first value of the localKeyId attribute (PKCS#9, RFC 2985 §5.5.8), if any. */
function readLocalKeyId(attributes: Asn1): Buffer | undefined {
  for (const attribute of set(attributes, 'bag attributes')) {
    const [id, values] = sequence(attribute, 'bag attribute', 2, 2);
    if (oid(id!, 'attribute type') === OID.localKeyId) return octets(set(values!, 'localKeyId', 1)[0]!, 'localKeyId');
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Algorithm parameters

/** An encryption AlgorithmIdentifier: PBES2, PKCS#12 PBE, or (key bags only, decided by the caller) PBES1 for OpenSSL. */
function readEncryption(node: Asn1, limits: SourceLimits, what: string): EncryptionParams | OpenSslDecryption {
  const { oid: algorithm, params } = algorithmIdentifier(node, 'encryption algorithm');
  if (algorithm === OID.pbes2) return readPbes2(required(params, 'PBES2 parameters'), limits, what);
  const cipher = PKCS12_PBE[algorithm];
  if (cipher) return { scheme: 'pkcs12-pbe', cipher, ...readPbeParams(params, limits, what) };
  if (PBES1.has(algorithm)) {
    readPbeParams(params, limits, what); // only to check the iteration count
    return { scheme: 'openssl', algorithm: describe(algorithm) };
  }
  throw unsupportedAlgorithm(describe(algorithm), what);
}

/**
 * pkcs-12PbeParams / PBEParameter ::= SEQUENCE { salt OCTET STRING, iterations INTEGER }
 * (RFC 7292 Appendix C, RFC 8018 Appendix A.3)
 */
function readPbeParams(params: Asn1 | undefined, limits: SourceLimits, what: string): { salt: Buffer; iterations: number } {
  const [salt, iterations] = sequence(required(params, 'PBE parameters'), 'PBE parameters', 2, 2);
  return { salt: octets(salt!, 'PBE salt'), iterations: checkIterations(integer(iterations!, 'PBE iterations'), limits, what) };
}

/** PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, encryptionScheme AlgorithmIdentifier } (RFC 8018 Appendix A.4) */
function readPbes2(params: Asn1, limits: SourceLimits, what: string): EncryptionParams | OpenSslDecryption {
  const [kdfNode, schemeNode] = sequence(params, 'PBES2-params', 2, 2);
  const { keyLength, ...kdf } = readPbkdf2(kdfNode!, limits, what);
  const { oid: schemeOid, params: ivNode } = algorithmIdentifier(schemeNode!, 'PBES2 encryption scheme');
  const cipher = PBES2_CIPHERS[schemeOid];
  if (!cipher) return { scheme: 'openssl', algorithm: `PBES2 with ${describe(schemeOid)}` };
  const sizes = CBC_CIPHERS[cipher];
  if (keyLength !== undefined && keyLength !== sizes.keyLength) throw malformed(`a PBES2 key length of ${keyLength} for ${cipher}`);
  return { scheme: 'pbes2', kdf, cipher, iv: checkLength(octets(required(ivNode, 'IV'), 'IV'), sizes.ivLength, 'IV') };
}

/**
 * PBKDF2-params ::= SEQUENCE { salt OCTET STRING, iterationCount INTEGER, keyLength INTEGER OPTIONAL,
 *   prf AlgorithmIdentifier DEFAULT hmacWithSHA1 } (RFC 8018 Appendix A.2)
 */
function readPbkdf2(node: Asn1, limits: SourceLimits, what: string): Pbkdf2Params & { keyLength: number | undefined } {
  const { oid: kdf, params } = algorithmIdentifier(node, 'key-derivation function');
  if (kdf !== OID.pbkdf2) throw unsupportedAlgorithm(describe(kdf), what);
  const [salt, iterations, ...rest] = sequence(required(params, 'PBKDF2 parameters'), 'PBKDF2-params', 2, 4);
  if (!isUniversal(salt!, Type.OCTETSTRING)) throw unsupportedAlgorithm('PBKDF2 with a salt from another source', what);
  const keyLengthNode = rest[0] && isUniversal(rest[0], Type.INTEGER) ? rest.shift() : undefined;
  const keyLength = keyLengthNode && integer(keyLengthNode, 'PBKDF2 key length');
  // Bound the derived length: PBKDF2's cost grows with it.
  if (keyLength !== undefined && (keyLength < 1 || keyLength > 64)) throw malformed(`a PBKDF2 key length of ${keyLength}`);
  const [prfNode, extra] = rest;
  if (extra) throw malformed('PBKDF2-params has extra fields');
  const prfOid = prfNode && algorithmIdentifier(prfNode, 'PBKDF2 PRF').oid;
  const prf = prfOid === undefined ? 'sha1' : HMACS[prfOid];
  if (!prf) throw unsupportedAlgorithm(`PBKDF2 with ${describe(prfOid!)}`, what);
  return {
    salt: octets(salt!, 'PBKDF2 salt'),
    iterations: checkIterations(integer(iterations!, 'PBKDF2 iterations'), limits, what),
    keyLength,
    prf,
  };
}

function checkIterations(iterations: number, limits: SourceLimits, what: string): number {
  if (iterations < 1) throw malformed(`an iteration count of ${iterations}`);
  if (iterations > limits.maxIterations) {
    throw new CredentialError(
      'ERR_ITERATION_LIMIT',
      `The PKCS#12 file asks for ${iterations} key-derivation iterations for ${what}; the limit is ${limits.maxIterations}. Raise maxIterations only for a file you trust.`,
    );
  }
  return iterations;
}

function checkLength(bytes: Buffer, length: number, what: string): Buffer {
  if (bytes.length !== length) throw malformed(`the ${what} has ${bytes.length} bytes, not ${length}`);
  return bytes;
}

function describe(oid: string): string {
  const name = NAMES[oid];
  return name ? `${name} (${oid})` : `the algorithm ${oid}`;
}

function unsupportedAlgorithm(algorithm: string, what: string, cause?: unknown): CredentialError {
  return new CredentialError(
    'ERR_UNSUPPORTED_FORMAT',
    `The PKCS#12 file uses ${algorithm} for ${what}, which is not supported. ` +
      'Re-export it with AES, e.g. `openssl pkcs12 -export -keypbe AES-256-CBC -certpbe AES-256-CBC -macalg sha256`.',
    cause === undefined ? undefined : { cause },
  );
}

// ---------------------------------------------------------------------------
// ASN.1 reading on node-forge's tree (X.690)

/** forge's `fromDer` takes an options object; its type declaration only admits `strict`. */
const fromDer = forge.asn1.fromDer as unknown as (
  bytes: string,
  options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean },
) => Asn1;

/** Parse one whole DER or BER value (indefinite lengths and constructed strings allowed). */
function parseDer(bytes: Uint8Array, what: string): Asn1 {
  try {
    const binary = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    return fromDer(binary, { strict: true, parseAllBytes: true, decodeBitStrings: false });
  } catch (cause) {
    throw malformed(`${what} is not valid DER/BER (truncated or damaged)`, cause);
  }
}

function toDer(node: Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(node).getBytes(), 'latin1');
}

function malformed(what: string, cause?: unknown): CredentialError {
  return new CredentialError('ERR_MALFORMED', `The PKCS#12 file is malformed: ${what}.`, cause === undefined ? undefined : { cause });
}

function isUniversal(node: Asn1, type: forge.asn1.Type): boolean {
  return node.tagClass === Class.UNIVERSAL && node.type === type;
}

function constructed(node: Asn1, type: forge.asn1.Type, what: string, min: number, max: number): Asn1[] {
  if (!isUniversal(node, type) || !Array.isArray(node.value)) throw malformed(`the ${what} is not a ${type === Type.SET ? 'SET' : 'SEQUENCE'}`);
  if (node.value.length < min || node.value.length > max) throw malformed(`the ${what} has ${node.value.length} fields`);
  return node.value;
}

function sequence(node: Asn1, what: string, min = 0, max = Infinity): Asn1[] {
  return constructed(node, Type.SEQUENCE, what, min, max);
}

function set(node: Asn1, what: string, min = 0, max = Infinity): Asn1[] {
  return constructed(node, Type.SET, what, min, max);
}

function required(node: Asn1 | undefined, what: string): Asn1 {
  if (!node) throw malformed(`the ${what} are missing`);
  return node;
}

function oid(node: Asn1, what: string): string {
  if (!isUniversal(node, Type.OID) || typeof node.value !== 'string') throw malformed(`the ${what} is not an OBJECT IDENTIFIER`);
  return forge.asn1.derToOid(node.value);
}

/** A non-negative INTEGER (lossy above 2^53, which is far above any cap it is compared with). */
function integer(node: Asn1, what: string): number {
  if (!isUniversal(node, Type.INTEGER) || typeof node.value !== 'string' || node.value.length === 0 || node.value.length > 16) {
    throw malformed(`the ${what} is not a valid INTEGER`);
  }
  const bytes = Buffer.from(node.value, 'latin1');
  if (bytes[0]! & 0x80) throw malformed(`the ${what} is negative`);
  return Number(BigInt(`0x${bytes.toString('hex')}`));
}

/** An OCTET STRING, or an IMPLICIT one tagged [contextTag]; the BER constructed form is concatenated (X.690 §8.7.3). */
function octets(node: Asn1, what: string, contextTag?: number): Buffer {
  const tagged = contextTag !== undefined && node.tagClass === Class.CONTEXT_SPECIFIC && node.type === contextTag;
  if (!tagged && !isUniversal(node, Type.OCTETSTRING)) throw malformed(`the ${what} is not an OCTET STRING`);
  if (typeof node.value === 'string') return Buffer.from(node.value, 'latin1');
  return Buffer.concat(node.value.map((segment) => octets(segment, what)));
}

/** The value inside an EXPLICIT [tag]. */
function explicit(node: Asn1, tag: number, what: string): Asn1 {
  const inner = node.tagClass === Class.CONTEXT_SPECIFIC && node.type === tag && Array.isArray(node.value) ? node.value : [];
  if (inner.length !== 1) throw malformed(`the ${what} is not an EXPLICIT [${tag}]`);
  return inner[0]!;
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL } (RFC 5280 §4.1.1.2) */
function algorithmIdentifier(node: Asn1, what: string): { oid: string; params: Asn1 | undefined } {
  const [id, params] = sequence(node, what, 1, 2);
  return { oid: oid(id!, what), params };
}

/** ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY } (RFC 5652 §3) */
function contentInfo(node: Asn1, what: string): { type: string; content: Asn1 } {
  const [type, content] = sequence(node, what, 2, 2);
  return { type: oid(type!, `${what} content type`), content: explicit(content!, 0, `${what} content`) };
}
