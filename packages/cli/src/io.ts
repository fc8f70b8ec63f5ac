/**
 * The process streams the CLI talks to, injectable so tests can run
 * {@link main} in-process, plus the helpers that touch them: the no-echo
 * passphrase prompt and printing.
 *
 * @module
 */
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

/**
 * The streams and environment of a run: those given, else the process's.
 * `process.stdin` and `process.stderr` are taken when first used: opening
 * them costs a cold start that reads no input and prints no error.
 */
export function processIo(io: Partial<Io> = {}): Io {
  return {
    stdout: io.stdout ?? process.stdout,
    env: io.env ?? process.env,
    get stderr() {
      return io.stderr ?? process.stderr;
    },
    get stdin() {
      return io.stdin ?? process.stdin;
    },
  };
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
