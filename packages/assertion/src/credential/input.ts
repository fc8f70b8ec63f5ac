import { open } from 'node:fs/promises';
import { CredentialError } from '../errors.js';
import { MAX_INPUT_BYTES } from '../sources/types.js';

/**
 * What {@link loadCredential} reads:
 * - `{ pfx, passphrase? }`: a PFX / PKCS#12 container (DER or BER bytes);
 * - `{ pem, passphrase? }`: PEM text (string or UTF-8 bytes) holding the
 *   certificate(s) and the private key, blocks in any order;
 * - `{ certificate, privateKey, passphrase? }`: separate PEM texts (the
 *   certificate may also be DER bytes).
 *
 * `passphrase` opens an encrypted key or container. Left out for a PFX, both
 * "no password" and the empty password are tried (OpenSSL and Windows differ).
 *
 * Each PEM text or PFX is at most {@link MAX_INPUT_BYTES} (256 KiB) and holds
 * at most 100 certificates and 16 private keys: a credential is a few
 * kilobytes, and the caps bound the work hostile input can cause.
 */
export type CredentialInput =
  | { readonly pfx: Uint8Array; readonly passphrase?: string }
  | { readonly pem: string | Uint8Array; readonly passphrase?: string }
  | { readonly certificate: string | Uint8Array; readonly privateKey: string | Uint8Array; readonly passphrase?: string };

/**
 * The one container sniffing rule: binary DER (a SEQUENCE, first byte 0x30)
 * is a PFX / PKCS#12 container (or a lone DER certificate, which the loaders
 * tell apart); anything else is PEM text.
 */
export function detectContainer(bytes: Uint8Array): 'pfx' | 'pem' {
  return bytes[0] === 0x30 ? 'pfx' : 'pem';
}

/** Read size: a certificate or PFX is a few KiB; no 1 MiB buffer per read (a rotation check reads the file again). */
const READ_CHUNK_BYTES = 64 * 1024;

/**
 * Read a credential file: at most {@link MAX_INPUT_BYTES} (+1, to tell a
 * larger file), so a huge file or a device that never ends is refused
 * without being read.
 *
 * @throws {@link CredentialError} `ERR_FILE_READ` (the path shown only when it looks like a path),
 *   `ERR_MALFORMED` for a file over {@link MAX_INPUT_BYTES}
 */
export async function readCredentialFile(path: string): Promise<Uint8Array> {
  if (typeof path !== 'string' || path === '') throw new CredentialError('ERR_INVALID_OPTIONS', 'A credential file path must be a non-empty string.');
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    const file = await open(path, 'r');
    try {
      while (length <= MAX_INPUT_BYTES) {
        const chunk = Buffer.alloc(Math.min(READ_CHUNK_BYTES, MAX_INPUT_BYTES + 1 - length));
        const { bytesRead } = await file.read(chunk, 0, chunk.length);
        if (bytesRead === 0) break;
        chunks.push(chunk.subarray(0, bytesRead));
        length += bytesRead;
      }
    } finally {
      await file.close();
    }
  } catch (cause) {
    const code = (cause as { code?: string }).code ?? 'unknown error';
    throw new CredentialError('ERR_FILE_READ', `Cannot read ${shownPath(path)} (${code}).`, { cause: new Error(code) });
  }
  checkSize(length, shownPath(path));
  return new Uint8Array(Buffer.concat(chunks, length));
}

/**
 * Read a passphrase kept in a file (a Kubernetes Secret key, a Docker
 * secret, `--passphrase-file`): read as {@link readCredentialFile} reads,
 * UTF-8, without one trailing newline (`\n` or `\r\n`).
 *
 * @throws {@link CredentialError} `ERR_FILE_READ`, `ERR_MALFORMED` (over {@link MAX_INPUT_BYTES})
 */
export async function readPassphraseFile(path: string): Promise<string> {
  return Buffer.from(await readCredentialFile(path)).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * A path for a message, quoted — unless it looks like key material or an
 * assertion passed where a path was expected (PEM text, a long line): then
 * only its length is named, so the message cannot carry the secret.
 */
export function shownPath(path: string): string {
  return path.length > 256 || /-----BEGIN|[\r\n]/.test(path)
    ? `The path (${path.length} characters, not shown: it looks like file contents, not a path)`
    : JSON.stringify(path);
}

/** @throws {@link CredentialError} `ERR_MALFORMED` for input over {@link MAX_INPUT_BYTES} */
export function checkSize(length: number, what: string): void {
  if (length > MAX_INPUT_BYTES) {
    throw new CredentialError('ERR_MALFORMED', `${what} is ${length} bytes long; a credential is at most ${MAX_INPUT_BYTES} (256 KiB).`);
  }
}

/**
 * The text of a string, or of bytes that {@link detectContainer} calls PEM,
 * when it holds a PEM block (`-----BEGIN `); `undefined` for DER or text
 * without one.
 */
export function pemText(input: string | Uint8Array): string | undefined {
  if (typeof input !== 'string' && detectContainer(input) === 'pfx') return undefined;
  const text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: false }).decode(input);
  return text.includes('-----BEGIN ') ? text : undefined;
}

/**
 * Check the shape of an input from an untyped caller before touching it: a
 * wrong shape would otherwise end in a TypeError whose message quotes the
 * input, which may be key text or a passphrase.
 *
 * @throws {@link CredentialError} `ERR_INVALID_OPTIONS`
 */
export function checkInput(input: unknown): asserts input is CredentialInput {
  if (input === null || typeof input !== 'object') throw invalidInput();
  const fields = input as Record<string, unknown>;
  const isText = (v: unknown) => typeof v === 'string' || v instanceof Uint8Array;
  const ok =
    'pfx' in fields
      ? fields.pfx instanceof Uint8Array
      : 'pem' in fields
        ? isText(fields.pem)
        : 'certificate' in fields && 'privateKey' in fields && isText(fields.certificate) && isText(fields.privateKey);
  if (!ok) throw invalidInput();
  if (fields.passphrase !== undefined && typeof fields.passphrase !== 'string') {
    throw new CredentialError('ERR_INVALID_OPTIONS', 'loadCredential: passphrase must be a string.');
  }
}

function invalidInput(): CredentialError {
  return new CredentialError(
    'ERR_INVALID_OPTIONS',
    'loadCredential takes { pfx, passphrase? }, { pem, passphrase? } or { certificate, privateKey, passphrase? }.',
  );
}

/** DER bytes, or the error for text where DER was expected (saying so when it is base64). */
export function derInput(input: string | Uint8Array): Uint8Array {
  if (typeof input !== 'string') return input;
  const hint = /^[A-Za-z0-9+/=\s]+$/.test(input.trim())
    ? 'it looks like base64 text: decode it to binary DER first (e.g. `base64 -d`).'
    : 'expected PEM text or DER bytes.';
  throw new CredentialError('ERR_MALFORMED', `The input is not a certificate: ${hint}`);
}

/** The error for a `pem` input that holds no PEM block. */
export function notPem(input: string | Uint8Array): CredentialError {
  if (typeof input !== 'string' && detectContainer(input) === 'pfx') {
    return new CredentialError('ERR_MALFORMED', 'The `pem` input is binary DER: pass a PFX as `{ pfx }`, or PEM text as `{ pem }`.');
  }
  return new CredentialError('ERR_MALFORMED', 'The `pem` input holds no PEM block (-----BEGIN …-----).');
}
