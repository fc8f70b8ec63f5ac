/**
 * The process streams the CLI talks to, injectable so tests can run
 * {@link main} in-process, plus the few helpers that touch them: reading a
 * file or stdin, and the no-echo passphrase prompt.
 *
 * @module
 */
import { open } from 'node:fs/promises';
import { CliError } from './errors.js';

/** Something text can be written to (`process.stdout`, a test buffer). */
export interface TextSink {
  write(chunk: string): unknown;
}

/** Standard input as the CLI uses it: read to the end, or prompted on when a TTY. */
export type InputStream = NodeJS.ReadableStream & {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
};

/** The streams and environment of one CLI run. */
export interface Io {
  stdout: TextSink;
  stderr: TextSink;
  stdin: InputStream;
  env: Record<string, string | undefined>;
}

/** The real process streams and environment. */
export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

/**
 * Largest file or standard input read: 1 MiB. Certificates, keys, PFX files,
 * passphrases and assertions are a few kilobytes; a bigger input (or a device
 * such as /dev/zero, which never ends) is refused rather than read whole.
 */
export const MAX_INPUT_BYTES = 1024 * 1024;

/**
 * Read a file the user named (at most {@link MAX_INPUT_BYTES}).
 *
 * @throws {@link CliError} `ERR_FILE_READ` (exit 1) with the path and the system error code only,
 *   or when the file is larger than {@link MAX_INPUT_BYTES}
 */
export async function readUserFile(path: string, what = 'file'): Promise<Buffer> {
  const bytes = Buffer.alloc(MAX_INPUT_BYTES + 1);
  let length = 0;
  try {
    const file = await open(path, 'r');
    try {
      while (length < bytes.length) {
        const { bytesRead } = await file.read(bytes, length, bytes.length - length);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
    } finally {
      await file.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new CliError('ERR_FILE_READ', `Cannot read ${what} ${shownPath(path)} (${code}).`);
  }
  if (length > MAX_INPUT_BYTES) throw new CliError('ERR_FILE_READ', `The ${what} ${shownPath(path)} is larger than ${MAX_INPUT_BYTES} bytes: not a certificate, key or passphrase.`);
  return bytes.subarray(0, length);
}

/**
 * A path for a message — unless it looks like file contents given where a
 * path was expected (PEM text, base64, an assertion: long, or several
 * lines): then only its length, so key material never reaches the terminal.
 */
function shownPath(path: string): string {
  return path.length > 256 || /-----BEGIN|[\r\n]/.test(path) ? `(a path of ${path.length} characters, not shown: it looks like file contents)` : path;
}

/**
 * Read standard input to its end as UTF-8 text (at most {@link MAX_INPUT_BYTES}).
 *
 * @throws {@link CliError} `ERR_INPUT_TOO_LARGE` when there is more
 */
export async function readAll(stdin: InputStream): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stdin) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    chunks.push(bytes);
    length += bytes.length;
    if (length > MAX_INPUT_BYTES) throw new CliError('ERR_INPUT_TOO_LARGE', `Standard input is larger than ${MAX_INPUT_BYTES} bytes.`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Ask for a secret on a terminal without echoing it. The prompt goes to
 * stderr so stdout keeps only the requested output. Only call this when
 * `io.stdin.isTTY` is true.
 *
 * @throws {@link CliError} `ERR_PROMPT_CANCELLED` on Ctrl-C / Ctrl-D / end of input
 */
export function promptSecret(io: Io, prompt: string): Promise<string> {
  const { stdin, stderr } = io;
  return new Promise((resolve, reject) => {
    let value = '';
    const raw = typeof stdin.setRawMode === 'function';
    const finish = (error?: CliError) => {
      stdin.removeListener('data', onData);
      stdin.removeListener('end', onEnd);
      if (raw) stdin.setRawMode!(false);
      stdin.pause();
      stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const cancelled = () => new CliError('ERR_PROMPT_CANCELLED', 'The passphrase prompt was cancelled.');
    const onEnd = () => finish(cancelled());
    const onData = (chunk: Buffer | string) => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') return finish(cancelled());
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else value += ch;
      }
    };
    stderr.write(prompt);
    if (raw) stdin.setRawMode!(true);
    if ('setEncoding' in stdin && typeof stdin.setEncoding === 'function') stdin.setEncoding('utf8');
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.resume();
  });
}

/** Print a value as pretty JSON (2-space indent) and a newline on stdout. */
export function printJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Print one line on stdout. */
export function printLine(io: Io, line: string): void {
  io.stdout.write(`${line}\n`);
}
