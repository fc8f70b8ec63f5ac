import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { CredentialError } from '../errors.js';
import { Type, isUniversal, parseDer, sequence } from './asn1.js';
import { readEncryption } from './pbe-params.js';
import { checkCounts, type SourceContents, type SourceLimits } from './types.js';

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
      if (block.label === 'ENCRYPTED PRIVATE KEY') {
        // OpenSSL gets exactly the DER that was checked, never the PEM text it would re-read its own way.
        const der = pemBody(block.text);
        checkKeyDerivation(der, limits);
        keys.push({ key: decodePrivateKey(der, 'der', passphrase, true) });
      } else {
        // Legacy `Proc-Type: 4,ENCRYPTED` keys derive with EVP_BytesToKey, one MD5 pass: no cost to bound.
        keys.push({ key: decodePrivateKey(block.text, 'pem', passphrase, block.text.includes('Proc-Type: 4,ENCRYPTED')) });
      }
    }
    else if (CERTIFICATE_LABELS.has(block.label)) certificates.push({ der: parseCertificate(block.text).raw });
    else if (!IGNORED_LABELS.has(block.label)) {
      throw new CredentialError('ERR_MALFORMED', `Unexpected PEM block "${block.label}": expected CERTIFICATE and PRIVATE KEY blocks.`);
    }
  }
  return { keys, certificates };
}

/**
 * The DER inside one ENCRYPTED PRIVATE KEY block. RFC 7468 §11 allows no
 * headers there, so a block with anything but base64 is refused.
 *
 * @throws {@link CredentialError} `ERR_MALFORMED`
 */
function pemBody(block: string): Buffer {
  const body = block.replace(/-----(BEGIN|END) [A-Z0-9 ]+-----/g, '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
    throw new CredentialError('ERR_MALFORMED', 'An ENCRYPTED PRIVATE KEY block holds something other than base64 (RFC 7468 §11 allows no headers).');
  }
  return Buffer.from(body, 'base64');
}

/**
 * Check the key-derivation cost an EncryptedPrivateKeyInfo (RFC 5208 §6)
 * demands against `maxIterations` before OpenSSL derives anything (it does so
 * synchronously, on the calling thread): the PBKDF2 or PBES1 iteration count,
 * or scrypt's N·r·p (RFC 7914 §7.1), read by `pbe-params.ts`. Anything else
 * that reader cannot read is refused (fail closed): the check never lets
 * OpenSSL derive a key whose cost it has not seen.
 *
 * @throws {@link CredentialError} `ERR_ITERATION_LIMIT`, `ERR_MALFORMED`, `ERR_UNSUPPORTED_FORMAT`
 */
export function checkKeyDerivation(der: Uint8Array, limits: SourceLimits): void {
  try {
    // EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData OCTET STRING }
    // Bytes after it are ignored, as OpenSSL ignores them.
    // A plain PrivateKeyInfo starts with its INTEGER version and derives nothing.
    const top = sequence(parseDer(der, 'the private key', true), 'the private key', 2);
    if (isUniversal(top[0]!, Type.INTEGER)) return;
    const [algorithm] = sequence(parseDer(der, 'the private key', true), 'EncryptedPrivateKeyInfo', 2, 2);
    readEncryption(algorithm!, limits, 'The encrypted private key');
  } catch (cause) {
    if (cause instanceof CredentialError) throw cause;
    throw new CredentialError('ERR_MALFORMED', 'The encrypted private key could not be parsed.', { cause });
  }
}

/**
 * Parse one certificate (DER, or one PEM block): the one X.509 parser of this package.
 *
 * @throws {@link CredentialError} `ERR_MALFORMED`
 */
export function parseCertificate(input: string | Uint8Array): X509Certificate {
  try {
    return new X509Certificate(input);
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
