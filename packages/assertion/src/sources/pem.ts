import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { CredentialError } from '../errors.js';
import { MAX_CERTIFICATES, MAX_KEYS, type SourceContents, type SourceLimits } from './types.js';

/**
 * One PEM block (RFC 7468 §2): its label and the whole block text, headers
 * included (legacy OpenSSL `Proc-Type`/`DEK-Info` headers must reach OpenSSL).
 */
interface PemBlock {
  readonly label: string;
  readonly text: string;
}

// Labels are upper-case words; the END label must repeat the BEGIN label.
// Lookaheads: every position a BEGIN or END line starts at, overlapping ones included.
const BEGIN_LINE = /(?=-----BEGIN ([A-Z0-9 ]+)-----)/g;
const END_LINE = /(?=-----END ([A-Z0-9 ]+)-----)/g;

const KEY_LABELS = new Set(['PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);
const CERTIFICATE_LABELS = new Set(['CERTIFICATE', 'X509 CERTIFICATE']);
// Blocks a bundle may legitimately carry that play no part in a credential.
const IGNORED_LABELS = new Set(['EC PARAMETERS', 'PUBLIC KEY', 'RSA PUBLIC KEY', 'X509 CRL', 'TRUSTED CERTIFICATE']);

/**
 * Split PEM text into blocks. Text outside blocks (the `Bag Attributes` and
 * `subject=` lines `openssl pkcs12 -nodes` prints, comments) is ignored, and
 * CRLF line endings are accepted.
 *
 * A block runs from a BEGIN line to the first END line with the same label
 * (what `/-----BEGIN (L)-----[\s\S]*?-----END \1-----/g` matches), found in
 * linear time: the END lines are indexed once, so a BEGIN line without its
 * END line does not make every later BEGIN line rescan the rest of the text.
 */
export function pemBlocks(text: string): PemBlock[] {
  const ends = new Map<string, { positions: number[]; next: number }>();
  for (const m of text.matchAll(END_LINE)) {
    const label = m[1]!;
    const entry = ends.get(label) ?? { positions: [], next: 0 };
    entry.positions.push(m.index);
    ends.set(label, entry);
  }
  const blocks: PemBlock[] = [];
  let consumed = 0;
  for (const m of text.matchAll(BEGIN_LINE)) {
    if (m.index < consumed) continue;
    const label = m[1]!;
    const bodyStart = m.index + `-----BEGIN ${label}-----`.length;
    const entry = ends.get(label);
    if (entry === undefined) continue;
    while (entry.next < entry.positions.length && entry.positions[entry.next]! < bodyStart) entry.next++;
    const end = entry.positions[entry.next];
    if (end === undefined) continue;
    consumed = end + `-----END ${label}-----`.length;
    blocks.push({ label, text: text.slice(m.index, consumed) });
  }
  return blocks;
}

/** `true` when `text` contains at least one PEM block. */
export function looksLikePem(text: string): boolean {
  return text.includes('-----BEGIN ');
}

/**
 * Read every private key and certificate from PEM text: PKCS#8, encrypted
 * PKCS#8 (PBES2, PBES1, scrypt), PKCS#1 `RSA PRIVATE KEY`, SEC1 `EC PRIVATE
 * KEY` and legacy OpenSSL `Proc-Type: 4,ENCRYPTED` keys — all decoded by
 * OpenSSL through `crypto.createPrivateKey`, in any order.
 *
 * @param text - PEM text, one or several blocks
 * @param passphrase - for encrypted keys; ignored by unencrypted ones
 * @param limits - `maxIterations` caps the key derivation of an encrypted PKCS#8 key
 * @throws {@link CredentialError} `ERR_PASSPHRASE_REQUIRED`, `ERR_BAD_PASSPHRASE`,
 *   `ERR_MALFORMED` (an unreadable block, an unknown label, more than
 *   {@link MAX_CERTIFICATES} certificates or {@link MAX_KEYS} keys),
 *   `ERR_ITERATION_LIMIT`
 */
export function parsePem(text: string, passphrase: string | undefined, limits: SourceLimits): SourceContents {
  const keys: { key: KeyObject }[] = [];
  const certificates: { der: Uint8Array }[] = [];
  const blocks = pemBlocks(text);
  if (blocks.length !== text.split('-----BEGIN ').length - 1) {
    throw new CredentialError('ERR_MALFORMED', 'A PEM block is truncated: a -----BEGIN line has no matching -----END line.');
  }
  checkCounts(blocks.filter((b) => CERTIFICATE_LABELS.has(b.label)).length, blocks.filter((b) => KEY_LABELS.has(b.label)).length);
  for (const block of blocks) {
    if (KEY_LABELS.has(block.label)) {
      const encrypted = block.label === 'ENCRYPTED PRIVATE KEY' || block.text.includes('Proc-Type: 4,ENCRYPTED');
      if (block.label === 'ENCRYPTED PRIVATE KEY') checkKeyDerivation(pemBody(block.text), limits);
      keys.push({ key: decodePrivateKey(block.text, 'pem', passphrase, encrypted) });
    }
    else if (CERTIFICATE_LABELS.has(block.label)) certificates.push({ der: decodeCertificate(block.text) });
    else if (!IGNORED_LABELS.has(block.label)) {
      throw new CredentialError('ERR_MALFORMED', `Unexpected PEM block "${block.label}": expected CERTIFICATE and PRIVATE KEY blocks.`);
    }
  }
  return { keys, certificates };
}

/**
 * Refuse more than {@link MAX_CERTIFICATES} certificates or {@link MAX_KEYS}
 * keys, before any is parsed.
 *
 * @throws {@link CredentialError} `ERR_MALFORMED`
 */
export function checkCounts(certificates: number, keys: number): void {
  if (certificates > MAX_CERTIFICATES) {
    throw new CredentialError('ERR_MALFORMED', `The input holds ${certificates} certificates; a credential has at most ${MAX_CERTIFICATES}.`);
  }
  if (keys > MAX_KEYS) throw new CredentialError('ERR_MALFORMED', `The input holds ${keys} private keys; a credential has at most ${MAX_KEYS}.`);
}

/** The DER inside one PEM block (no headers: an ENCRYPTED PRIVATE KEY block has none). */
function pemBody(block: string): Buffer {
  return Buffer.from(block.replace(/-----(BEGIN|END) [A-Z0-9 ]+-----/g, ''), 'base64');
}

const PBES2 = '1.2.840.113549.1.5.13';
const PBKDF2 = '1.2.840.113549.1.5.12';
const SCRYPT = '1.3.6.1.4.1.11591.4.11';
/** PBES1 (RFC 8018 §6.1) and PKCS#12 PBE (RFC 7292 Appendix C) schemes: their parameters are { salt, iterationCount }. */
const PBE_PREFIXES = ['1.2.840.113549.1.5.', '1.2.840.113549.1.12.1.'];

/**
 * Check the key-derivation cost an EncryptedPrivateKeyInfo (RFC 5208 §6)
 * demands against `maxIterations` before OpenSSL derives anything (it does so
 * synchronously, on the calling thread): the PBKDF2 or PBES1 iteration count,
 * or scrypt's N·r·p. Structures not understood here are left to OpenSSL,
 * which refuses them.
 *
 * @throws {@link CredentialError} `ERR_ITERATION_LIMIT`
 */
export function checkKeyDerivation(der: Uint8Array, limits: SourceLimits): void {
  let cost: number | undefined;
  try {
    cost = derivationCost(der);
  } catch {
    return; // not an EncryptedPrivateKeyInfo we can read: OpenSSL reports it
  }
  if (cost !== undefined && cost > limits.maxIterations) {
    throw new CredentialError(
      'ERR_ITERATION_LIMIT',
      `The encrypted private key asks for ${cost} key-derivation iterations; the limit is ${limits.maxIterations}. Raise maxIterations only for a key you trust.`,
    );
  }
}

function derivationCost(der: Uint8Array): number | undefined {
  type Node = forge.asn1.Asn1;
  const parse = forge.asn1.fromDer as unknown as (bytes: string, options: object) => Node;
  const children = (node: Node | undefined): Node[] => (node && Array.isArray(node.value) ? node.value : []);
  const oid = (node: Node | undefined) => (node && typeof node.value === 'string' && node.type === forge.asn1.Type.OID ? forge.asn1.derToOid(node.value) : '');
  const int = (node: Node | undefined): number => {
    if (!node || node.type !== forge.asn1.Type.INTEGER || typeof node.value !== 'string' || node.value.length === 0) throw new Error('not an INTEGER');
    return Number(BigInt(`0x${Buffer.from(node.value, 'latin1').toString('hex')}`));
  };
  const root = parse(Buffer.from(der).toString('latin1'), { strict: true, parseAllBytes: false, decodeBitStrings: false });
  const [algorithm] = children(root);
  const [algorithmOid, params] = children(algorithm);
  const scheme = oid(algorithmOid);
  if (scheme === PBES2) {
    const [kdf] = children(params);
    const [kdfOid, kdfParams] = children(kdf);
    const fields = children(kdfParams);
    if (oid(kdfOid) === PBKDF2) return int(fields[1]);
    if (oid(kdfOid) === SCRYPT) return int(fields[1]) * int(fields[2]) * int(fields[3]); // N · r · p (RFC 7914 §7.1)
    return undefined;
  }
  if (PBE_PREFIXES.some((prefix) => scheme.startsWith(prefix))) return int(children(params)[1]);
  return undefined;
}

/**
 * Parse one certificate, PEM block text or DER, into its DER encoding.
 *
 * @throws {@link CredentialError} `ERR_MALFORMED`
 */
export function decodeCertificate(input: string | Uint8Array): Uint8Array {
  try {
    return new Uint8Array(new X509Certificate(input).raw);
  } catch (cause) {
    throw new CredentialError('ERR_MALFORMED', 'A certificate could not be parsed: it is truncated or not X.509.', { cause });
  }
}

/**
 * Decode a private key with OpenSSL and translate its errors. Only error
 * codes are inspected; OpenSSL messages never carry key bytes.
 *
 * @param format - `'pem'` for block text; `'der'` for PKCS#8 DER (plain or encrypted)
 * @param encrypted - whether the key is known to be encrypted: then any
 *   failure with a passphrase is a wrong passphrase (a wrong key can decrypt
 *   to bytes that merely fail to parse)
 * @throws {@link CredentialError} `ERR_PASSPHRASE_REQUIRED`, `ERR_BAD_PASSPHRASE`, `ERR_MALFORMED`
 */
export function decodePrivateKey(
  key: string | Uint8Array,
  format: 'pem' | 'der',
  passphrase: string | undefined,
  encrypted: boolean,
): KeyObject {
  try {
    const bytes = typeof key === 'string' ? key : Buffer.from(key);
    const input = format === 'pem' ? { key: bytes, format } : { key: bytes, format, type: 'pkcs8' as const };
    return createPrivateKey(passphrase === undefined ? input : { ...input, passphrase });
  } catch (cause) {
    throw translateKeyError(cause, passphrase !== undefined, encrypted);
  }
}

function translateKeyError(cause: unknown, hadPassphrase: boolean, encrypted: boolean): CredentialError {
  const code = String((cause as { code?: unknown } | null)?.code ?? '');
  const decryptFailed = encrypted || /BAD_DECRYPT|INTERRUPTED_OR_CANCELLED|MISSING_PASSPHRASE/.test(code);
  if (decryptFailed && !hadPassphrase) {
    return new CredentialError('ERR_PASSPHRASE_REQUIRED', 'The private key is encrypted: give its passphrase.', { cause });
  }
  if (decryptFailed) {
    return new CredentialError('ERR_BAD_PASSPHRASE', 'The passphrase does not decrypt the private key.', { cause });
  }
  return new CredentialError('ERR_MALFORMED', 'The private key could not be parsed: it is truncated or in an unknown format.', {
    cause,
  });
}
