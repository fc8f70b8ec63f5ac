import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { CredentialError } from '../errors.js';
import type { SourceContents } from './types.js';

/**
 * One PEM block (RFC 7468 §2): its label and the whole block text, headers
 * included (legacy OpenSSL `Proc-Type`/`DEK-Info` headers must reach OpenSSL).
 */
interface PemBlock {
  readonly label: string;
  readonly text: string;
}

// Labels are upper-case words; the END label must repeat the BEGIN label.
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

const KEY_LABELS = new Set(['PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);
const CERTIFICATE_LABELS = new Set(['CERTIFICATE', 'X509 CERTIFICATE']);
// Blocks a bundle may legitimately carry that play no part in a credential.
const IGNORED_LABELS = new Set(['EC PARAMETERS', 'PUBLIC KEY', 'RSA PUBLIC KEY', 'X509 CRL', 'TRUSTED CERTIFICATE']);

/**
 * Split PEM text into blocks. Text outside blocks (the `Bag Attributes` and
 * `subject=` lines `openssl pkcs12 -nodes` prints, comments) is ignored, and
 * CRLF line endings are accepted.
 */
export function pemBlocks(text: string): PemBlock[] {
  return Array.from(text.matchAll(PEM_BLOCK), (m) => ({ label: m[1]!, text: m[0] }));
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
 * @throws {@link CredentialError} `ERR_PASSPHRASE_REQUIRED`, `ERR_BAD_PASSPHRASE`,
 *   `ERR_MALFORMED` (an unreadable block, or an unknown label)
 */
export function parsePem(text: string, passphrase: string | undefined): SourceContents {
  const keys: { key: KeyObject }[] = [];
  const certificates: { der: Uint8Array }[] = [];
  const blocks = pemBlocks(text);
  if (blocks.length !== text.split('-----BEGIN ').length - 1) {
    throw new CredentialError('ERR_MALFORMED', 'A PEM block is truncated: a -----BEGIN line has no matching -----END line.');
  }
  for (const block of blocks) {
    if (KEY_LABELS.has(block.label)) {
      const encrypted = block.label === 'ENCRYPTED PRIVATE KEY' || block.text.includes('Proc-Type: 4,ENCRYPTED');
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
