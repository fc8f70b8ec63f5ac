import { createPrivateKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { CredentialError } from '../errors.js';
import { algorithmIdentifier, checkLength, contentInfo, explicit, integer, octets, oid, parseDer, required, sequence, set, toDer, type Asn1 } from './asn1.js';
import { DerivationBudget, type MAX_DERIVATIONS } from './budget.js';
import { computeMac, decrypt, DecryptionFailed, derivations, toPassword, type EncryptionParams, type MacParams, type Password } from './pbe.js';
import { decryptInWorker, type KeyWorker } from './key-worker.js';
import { readPrivateKey } from './private-key-info.js';
import { checkIterations, describe, readEncryption, readPbmac1, unsupportedAlgorithm, type OpenSslDecryption } from './pbe-params.js';
import { digestSize, type DigestName } from './pkcs12-kdf.js';
import { checkCounts, MAX_KEYS, type SourceCertificate, type SourceContents, type SourceKey, type SourceLimits } from './types.js';

/**
 * Read a PFX / PKCS#12 container (RFC 7292) into its private keys and
 * certificates.
 *
 * Untrusted bytes are handled in two phases. First the whole visible
 * structure is parsed (`asn1.ts`, which accepts BER) and every algorithm and
 * iteration count is checked (`pbe-params.ts`), before anything is derived.
 * Then, for each candidate password in turn, the MAC is verified and then the
 * bags are decrypted, one derivation after another (`pbe.ts`, `node:crypto`),
 * every derivation counted in the load's one {@link DerivationBudget}; with a
 * verified MAC, triple-DES key bags meanwhile by OpenSSL in the load's own
 * workers (`key-worker.ts`), stopped when the load ends. Bags
 * found inside encrypted content are checked the same way before their own
 * derivation.
 *
 * @module
 */

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

/** What each derivation protects, as messages name it (see `pbe-params.ts`). */
const KEY = 'A private key of the PKCS#12 file';
const CONTENT = 'The encrypted content of the PKCS#12 file';
const MAC = 'The MAC of the PKCS#12 file';
const KEY_BAG = 'A key bag of the PKCS#12 file';

/** A SafeBag we use (RFC 7292 §4.2). */
type Bag =
  | { readonly type: 'key'; readonly info: Asn1; readonly localKeyId: Buffer | undefined }
  /** `encryptedPkcs8`: the EncryptedPrivateKeyInfo, for OpenSSL. */
  | { readonly type: 'shroudedKey'; readonly encryption: EncryptionParams | OpenSslDecryption; readonly encryptedPkcs8: Buffer; readonly ciphertext: Buffer; readonly localKeyId: Buffer | undefined }
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
 * PBES2 with scrypt, RFC 7914 §7, or another cipher) are handed to OpenSSL.
 *
 * Without a passphrase, both the absent password and `""` are tried (they
 * differ for the PKCS#12 KDF, Appendix B.1); the MAC, or without one a
 * successful decryption, picks the one that opens the file.
 *
 * @param der - the container, DER or BER
 * @param passphrase - the password; `undefined` when none was given
 * @param limits - `maxIterations` caps every iteration count, checked before deriving anything;
 *   at most {@link MAX_KEYS} keys and {@link MAX_CERTIFICATES} certificates, checked before decrypting or parsing them
 * @param budget - the load's derivations: at most {@link MAX_DERIVATIONS} (key, IV and MAC, every candidate
 *   password together), checked on the visible structure before deriving anything and counted as they run;
 *   given by tests to count them
 * @throws {@link CredentialError} `ERR_PASSPHRASE_REQUIRED`, `ERR_BAD_PASSPHRASE`,
 *   `ERR_MALFORMED`, `ERR_UNSUPPORTED_FORMAT`, `ERR_ITERATION_LIMIT`, `ERR_UNSUPPORTED_KEY`
 */
export async function parsePfx(der: Uint8Array, passphrase: string | undefined, limits: SourceLimits, budget = new DerivationBudget()): Promise<SourceContents> {
  const pfx = readPfx(der, limits, budget);
  // No password and the empty one differ for the PKCS#12 KDF (RFC 7292 B.1), and writers differ
  // (GnuTLS --null-password): as OpenSSL's PKCS12_parse, '' and none are tried alike.
  for (const candidate of passphrase === undefined || passphrase === '' ? [undefined, ''] : [passphrase]) {
    const contents = await open(pfx, toPassword(candidate), limits, budget);
    if (contents) return contents;
  }
  throw passphrase === undefined
    ? new CredentialError('ERR_PASSPHRASE_REQUIRED', 'The PKCS#12 file is protected by a password: give its passphrase.')
    : new CredentialError('ERR_BAD_PASSPHRASE', 'The passphrase does not open the PKCS#12 file: its MAC or decryption check failed.');
}

// ---------------------------------------------------------------------------
// Phase 2: derive, verify, decrypt

/**
 * The contents under `password`, or `undefined` when the MAC or a decryption
 * rejects it. The MAC is verified first: a wrong password costs one
 * derivation, and nothing is decrypted under a password the MAC refuses.
 */
async function open(pfx: Pfx, password: Password, limits: SourceLimits, budget: DerivationBudget): Promise<SourceContents | undefined> {
  const mac = pfx.mac && { expected: pfx.mac.digest, computed: await computeMac(pfx.mac.params, password, pfx.authSafe, budget) }; // RFC 7292 §4, RFC 9579 §3
  if (mac && !(mac.computed.length === mac.expected.length && timingSafeEqual(mac.computed, mac.expected))) return undefined;
  // Once the MAC vouches for the password, OpenSSL decrypts the triple-DES key bags in workers while the contents are decrypted here.
  const native = mac && password.utf8.length > 0 ? pfx.contents.flatMap((c) => (c.type === 'plain' ? c.bags.filter(isNativeKeyBag) : [])) : [];
  budget.spend(native.reduce((sum, bag) => sum + derivations(bag.encryption), 0));
  const workers = new Map(native.map((bag) => [bag as Bag, decryptInWorker(bag.encryptedPkcs8, password.utf8)]));
  try {
    const contents = await readContents(pfx.contents, password, limits, budget, workers);
    return { ...contents, integrity: pfx.mac === undefined ? 'none' : 'mac' };
  } catch (error) {
    if (error instanceof DecryptionFailed) return undefined;
    throw error;
  } finally {
    for (const worker of workers.values()) worker.stop();
  }
}

const isNativeKeyBag = (bag: Bag): bag is Extract<Bag, { type: 'shroudedKey' }> =>
  bag.type === 'shroudedKey' && bag.encryption.scheme === 'pkcs12-pbe' && (bag.encryption.cipher === '3des' || bag.encryption.cipher === '2des');

/**
 * Decrypt every content; check what they hold against the caps; then open
 * every bag. One at a time: the first failure leaves nothing running. Results
 * in file order.
 */
async function readContents(contents: readonly Content[], password: Password, limits: SourceLimits, budget: DerivationBudget, workers: ReadonlyMap<Bag, KeyWorker>): Promise<SourceContents> {
  const bags: Bag[] = [];
  for (const content of contents) bags.push(...(content.type === 'plain' ? content.bags : await decryptSafeContents(content, password, limits, budget)));
  checkBagCounts(bags.filter((bag) => !workers.has(bag)), 0, budget);
  const items: (SourceKey | SourceCertificate)[] = [];
  for (const bag of bags) items.push(await openBag(bag, password, budget, workers.get(bag)));
  return { keys: items.filter((item): item is SourceKey => 'key' in item), certificates: items.filter((item): item is SourceCertificate => 'der' in item) };
}

async function decryptSafeContents(content: Extract<Content, { type: 'encrypted' }>, password: Password, limits: SourceLimits, budget: DerivationBudget): Promise<readonly Bag[]> {
  return readSafeContents(parsePlaintext(await decrypt(content.encryption, content.ciphertext, password, budget), 'SafeContents'), limits);
}

/** The decrypted bytes parsed, then zeroed; `DecryptionFailed` when they do not parse: the padding checked by chance under a wrong password. */
function parsePlaintext(plaintext: Buffer, what: string): Asn1 {
  try {
    return parseDer(plaintext, what);
  } catch {
    throw new DecryptionFailed();
  } finally {
    plaintext.fill(0);
  }
}

async function openBag(bag: Bag, password: Password, budget: DerivationBudget, worker: KeyWorker | undefined): Promise<SourceKey | SourceCertificate> {
  const localKeyId = bag.localKeyId && { localKeyId: bag.localKeyId };
  switch (bag.type) {
    case 'cert':
      return { der: bag.der, ...localKeyId };
    case 'key':
      return { key: readPrivateKey(bag.info, KEY_BAG), ...localKeyId };
    case 'shroudedKey':
      return { key: await openShroudedKey(bag, password, budget, worker), ...localKeyId };
  }
}

/** By OpenSSL in `worker` if it could; else here (for instance a OneAsymmetricKey v2, which OpenSSL 3.0 cannot read). */
async function openShroudedKey(bag: Extract<Bag, { type: 'shroudedKey' }>, password: Password, budget: DerivationBudget, worker: KeyWorker | undefined): Promise<KeyObject> {
  const decrypted = await worker?.result;
  if (decrypted) return readPrivateKey(parsePlaintext(decrypted, 'PrivateKeyInfo'), KEY_BAG);
  if (bag.encryption.scheme === 'openssl') {
    budget.spend();
    return decryptWithOpenSsl(bag.encryptedPkcs8, bag.encryption.algorithm, password);
  }
  return readPrivateKey(parsePlaintext(await decrypt(bag.encryption, bag.ciphertext, password, budget), 'PrivateKeyInfo'), KEY_BAG);
}

/** Key bags under a scheme OpenSSL knows and we do not run (PBES1, PBES2 with scrypt or another cipher). */
function decryptWithOpenSsl(encryptedPkcs8: Buffer, algorithm: string, password: Password): KeyObject {
  try {
    return createPrivateKey({ key: encryptedPkcs8, format: 'der', type: 'pkcs8', passphrase: password.utf8 });
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'ERR_OSSL_EVP_UNSUPPORTED') throw unsupportedAlgorithm(algorithm, KEY, cause);
    throw new DecryptionFailed();
  }
}

// ---------------------------------------------------------------------------
// Phase 1: parse and check the structure (RFC 7292 §4)

/** PFX ::= SEQUENCE { version INTEGER {v3(3)}, authSafe ContentInfo, macData MacData OPTIONAL } */
function readPfx(der: Uint8Array, limits: SourceLimits, budget: DerivationBudget): Pfx {
  checkIsBinary(der);
  const [version, authSafeInfo, macData] = sequence(parseDer(der, 'the PKCS#12 file'), 'PFX', 2, 3);
  const v = integer(version!, 'PFX version');
  if (v !== 3) throw new CredentialError('ERR_UNSUPPORTED_FORMAT', `PKCS#12 version ${v} is not supported: only version 3 exists (RFC 7292).`);
  const { type, content } = contentInfo(authSafeInfo!, 'authSafe');
  if (type === OID.signedData) throw new CredentialError('ERR_UNSUPPORTED_FORMAT', 'The PKCS#12 file uses public-key integrity mode (signedData), which is not supported.');
  if (type !== OID.data) throw invalidPfx(`the authSafe has content type ${type}, not data`);
  const authSafe = octets(content, 'authSafe content');
  const mac = macData && readMacData(macData, limits);
  const contents = sequence(parseDer(authSafe, 'the AuthenticatedSafe'), 'AuthenticatedSafe').map((info) => readContent(info, limits));
  const pending = contents.reduce((sum, c) => sum + (c.type === 'encrypted' ? derivations(c.encryption) : 0), mac ? 1 : 0);
  checkBagCounts(contents.flatMap((c) => (c.type === 'plain' ? c.bags : [])), pending, budget);
  return { authSafe, mac, contents };
}

/**
 * Bound the work a file can demand beyond one derivation's `maxIterations`:
 * the `pending` derivations plus those of the encrypted keys must fit in what
 * is left of `budget`, and there are at most {@link MAX_KEYS} keys and
 * {@link MAX_CERTIFICATES} certificates ({@link checkCounts}). Run on the
 * visible structure before anything is derived, and again on the bags of
 * decrypted contents before their keys are derived.
 *
 * @throws {@link CredentialError} `ERR_ITERATION_LIMIT`, `ERR_MALFORMED`
 */
function checkBagCounts(bags: readonly Bag[], pending: number, budget: DerivationBudget): void {
  budget.require(bags.reduce((sum, b) => sum + (b.type === 'shroudedKey' ? derivations(b.encryption) : 0), pending));
  const keys = bags.filter((b) => b.type !== 'cert').length;
  checkCounts(bags.length - keys, keys);
}

/** `ERR_MALFORMED` for what is wrong with the PKCS#12 file beyond its ASN.1 encoding (which `asn1.ts` checks). */
function invalidPfx(detail: string): CredentialError {
  return new CredentialError('ERR_MALFORMED', `The PKCS#12 file is malformed: ${detail}.`);
}

/** Refuse empty input, and say so when the bytes are text: base64 or PEM. */
function checkIsBinary(bytes: Uint8Array): void {
  if (bytes.length === 0) throw invalidPfx('the file is empty');
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  if (/^\s*-----BEGIN /.test(text)) throw new CredentialError('ERR_MALFORMED', 'The PKCS#12 file is PEM text, not DER: load it as PEM.');
  if (/^[A-Za-z0-9+/=\s]+$/.test(text)) throw new CredentialError('ERR_MALFORMED', 'The PKCS#12 file is not DER: this looks like base64 text; decode it to DER first (e.g. `base64 -d`).');
}

/** MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 } */
function readMacData(node: Asn1, limits: SourceLimits): Pfx['mac'] {
  const [digestInfo, salt, iterations] = sequence(node, 'MacData', 2, 3);
  const [algorithmNode, digestNode] = sequence(digestInfo!, 'DigestInfo', 2, 2);
  const { oid: algorithm, params } = algorithmIdentifier(algorithmNode!, 'MAC algorithm');
  const digest = octets(digestNode!, 'MAC value');
  if (algorithm === OID.pbmac1) {
    // RFC 9579 §3: macSalt and iterations are not used with PBMAC1.
    const pbmac1 = readPbmac1(params, limits, MAC);
    return { params: pbmac1, digest: checkLength(digest, digestSize(pbmac1.hmac), 'MAC value') };
  }
  const hash = DIGESTS[algorithm];
  if (!hash) throw unsupportedAlgorithm(describe(algorithm), MAC);
  const macIterations = checkIterations(iterations ? integer(iterations, 'MAC iterations') : 1, limits, MAC);
  return { params: { scheme: 'pkcs12-kdf', digest: hash, salt: octets(salt!, 'MAC salt'), iterations: macIterations }, digest: checkLength(digest, digestSize(hash), 'MAC value') };
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
      throw invalidPfx(`an AuthenticatedSafe entry has content type ${type}`);
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
  const encryption = readEncryption(algorithm!, limits, CONTENT);
  if (encryption.scheme === 'openssl') throw unsupportedAlgorithm(encryption.algorithm, CONTENT);
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
      return [{ type: 'key', info: value, localKeyId }];
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
  const encryption = readEncryption(algorithm!, limits, KEY);
  return { type: 'shroudedKey', encryption, encryptedPkcs8: toDer(value), ciphertext: octets(data!, 'encrypted private key'), localKeyId };
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
