/**
 * Test helpers: certificates made with openssl in a temporary directory, the
 * built CLI run as a subprocess, and `main()` run in-process with captured
 * streams.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../src/main.js';

/** The passphrase of every encrypted fixture: must never appear in any output. */
export const SENTINEL = 'S3ntinel-pass-7f3c9a1e';
/** A wrong passphrase, also never to be printed. */
export const WRONG = 'S3ntinel-pass-WRONG-4411';

export const BIN = fileURLToPath(new URL('../bin/x-assertion.js', import.meta.url));
/** The bundled CLI the bin runs (scripts/bundle.mjs). */
export const DIST_BUNDLE = fileURLToPath(new URL('../dist/x-assertion.cjs', import.meta.url));

export interface Fixtures {
  dir: string;
  /** RSA-2048 certificate (PEM), key (PEM), bundle (cert + key), DER certificate. */
  rsaCert: string;
  rsaKey: string;
  rsaBundle: string;
  rsaDer: string;
  /** The RSA key encrypted (PKCS#8, AES-256) with {@link SENTINEL}. */
  rsaKeyEncrypted: string;
  /** The RSA certificate and key in a PFX encrypted with {@link SENTINEL}. */
  rsaPfx: string;
  /** A second RSA certificate + key bundle (the "new" key of a rotation). */
  rsa2Bundle: string;
  rsa2Cert: string;
  /** EC P-256 certificate + key bundle, and the certificate alone. */
  ecBundle: string;
  ecCert: string;
  /** A file holding {@link SENTINEL} and a newline. */
  passFile: string;
  cleanup(): void;
}

function openssl(args: string[], env: Record<string, string> = {}): string {
  return execFileSync('openssl', args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }).toString('utf8');
}

/** Make every fixture certificate with openssl in a new temporary directory. */
export function makeFixtures(): Fixtures {
  const dir = mkdtempSync(join(tmpdir(), 'x-assertion-cli-'));
  const p = (name: string) => join(dir, name);
  const selfSigned = (name: string, cn: string, keyArgs: string[]) => {
    openssl(['req', '-x509', '-newkey', ...keyArgs, '-nodes', '-keyout', p(`${name}.key`), '-out', p(`${name}.crt`), '-days', '30', '-subj', cn]);
    writeFileSync(p(`${name}.pem`), readFileSync(p(`${name}.crt`), 'utf8') + readFileSync(p(`${name}.key`), 'utf8'));
  };
  selfSigned('rsa', '/C=GB/O=X Test/CN=cli-test-rsa', ['rsa:2048']);
  selfSigned('rsa2', '/CN=cli-test-rsa-next', ['rsa:2048']);
  selfSigned('ec', '/CN=cli-test-ec', ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  openssl(['x509', '-in', p('rsa.crt'), '-outform', 'DER', '-out', p('rsa.der')]);
  const env = { FIXTURE_PASS: SENTINEL };
  openssl(['pkcs12', '-export', '-in', p('rsa.crt'), '-inkey', p('rsa.key'), '-out', p('rsa.pfx'), '-passout', 'env:FIXTURE_PASS'], env);
  openssl(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', p('rsa.key'), '-out', p('rsa-enc.key'), '-passout', 'env:FIXTURE_PASS'], env);
  writeFileSync(p('pass.txt'), `${SENTINEL}\n`);
  return {
    dir,
    rsaCert: p('rsa.crt'),
    rsaKey: p('rsa.key'),
    rsaBundle: p('rsa.pem'),
    rsaDer: p('rsa.der'),
    rsaKeyEncrypted: p('rsa-enc.key'),
    rsaPfx: p('rsa.pfx'),
    rsa2Bundle: p('rsa2.pem'),
    rsa2Cert: p('rsa2.crt'),
    ecBundle: p('ec.pem'),
    ecCert: p('ec.crt'),
    passFile: p('pass.txt'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `openssl x509 -noout -fingerprint -<hash>` as upper-case hex without colons. */
export function opensslFingerprint(certPath: string, hash: 'sha1' | 'sha256'): string {
  const out = openssl(['x509', '-in', certPath, '-noout', '-fingerprint', `-${hash}`]);
  return out.trim().split('=')[1]!.replaceAll(':', '').toUpperCase();
}

/** `openssl x509 -noout -<startdate|enddate>` as a Date. */
export function opensslDate(certPath: string, which: 'startdate' | 'enddate'): Date {
  return new Date(openssl(['x509', '-in', certPath, '-noout', `-${which}`]).trim().split('=')[1]!);
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A minimal environment: no AZURE_* or other variables leak in from the test runner. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), ...extra };
}

/** Throw a clear error when the CLI has not been built. */
export function requireBuilt(): void {
  if (!existsSync(DIST_BUNDLE)) {
    throw new Error(`${DIST_BUNDLE} is missing: run \`npx -y pnpm@10.34.9 run build\` (the root \`pnpm test\` builds first).`);
  }
}

/**
 * Run the built CLI (`node bin/x-assertion.js …`) with stdin a pipe (never a
 * TTY), optionally fed `input`.
 */
export function runCli(args: string[], options: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: options.env ?? baseEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`x-assertion ${args.join(' ')} did not finish within ${options.timeoutMs ?? 15000} ms (waiting for input?)`));
    }, options.timeoutMs ?? 15000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    // Leave stdin open unless there is input: a CLI that waited for a prompt answer would then hang and time out.
    if (options.input !== undefined) child.stdin.end(options.input);
  });
}

/** A fake terminal stdin: `isTTY`, a recorded `setRawMode`, and the keystrokes to type. */
export function fakeTty(keystrokes: string): PassThrough & { isTTY: true; rawModes: boolean[]; setRawMode(m: boolean): void } {
  const s = new PassThrough() as PassThrough & { isTTY: true; rawModes: boolean[]; setRawMode(m: boolean): void };
  s.isTTY = true;
  s.rawModes = [];
  s.setRawMode = (m: boolean) => void s.rawModes.push(m);
  setTimeout(() => s.write(keystrokes), 20);
  return s;
}

/** Run `main()` in-process with captured stdout/stderr. */
export async function runMain(
  args: string[],
  options: { env?: Record<string, string | undefined>; stdin?: NodeJS.ReadableStream; input?: string } = {},
): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const stdin = options.stdin ?? Readable.from(options.input === undefined ? [] : [Buffer.from(options.input)]);
  const code = await main(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: stdin as never,
    env: options.env ?? baseEnv(),
  });
  return { code, stdout, stderr };
}
