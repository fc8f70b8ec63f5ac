/**
 * Secret hygiene of the built CLI, proven (hardening issue, part 4): every
 * command's error paths run as a subprocess (`node bin/x-assertion.js`),
 * with `--debug`, over the sentinel key re-encrypted under a random sentinel
 * passphrase in every format openssl writes. Nothing secret may appear on
 * stderr, and nothing on stdout but the assertion or token the user asked
 * for: not the passphrase (right or wrong), the key's PEM body lines or JWK
 * private members, a client secret in the environment, an access token a
 * server sent, or an assertion (the one given to `inspect`, or the one
 * `token` signed and sent).
 *
 * `token` runs against an unreachable 127.0.0.1 port and against
 * `startEntraServer` (an unregistered certificate, and faulty answers
 * carrying sentinel access tokens). The in-process matrix over every
 * encrypted fixture is in test/hardening/hygiene.test.ts.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClientAssertion, loadCredentialFile } from '@x/assertion';
import { startEntraServer, type EntraServer } from '@x/devserver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../../test/setup/fixtures.js';
import { KEY_BUNDLE, Scanner, addAssertion, makeSentinels, writeEncryptedVariants, type Sentinels } from '../../../test/hardening/sentinels.js';
import { mergeCounts } from '../../../test/hardening/support.js';
import { baseEnv, requireBuilt, runCli, type RunResult } from './helpers.js';

const TENANT = '7f0c1d2e-0000-4000-8000-00000000beef';
const CLIENT = '0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b';
const UNREGISTERED = '0e1d2c3b-4a59-4687-9a0b-00000000dead';
const AUD = 'https://login.example/tenant/oauth2/v2.0/token';
const GRAPH = 'https://graph.microsoft.com/.default';

let s: Sentinels;
let scan: Scanner;
let dir: string;
let variants: Record<string, { file: string; keyFile?: string }>;
let entra: EntraServer;
let closedPort: number;
let env: Record<string, string>;
let runs = 0;

beforeAll(async () => {
  requireBuilt();
  s = makeSentinels();
  scan = new Scanner(s);
  dir = await mkdtemp(path.join(tmpdir(), 'x-cli-hygiene-'));
  variants = await writeEncryptedVariants(dir, s);
  await writeFile(path.join(dir, 'wrong.txt'), `${s.wrong}\n`);
  await writeFile(path.join(dir, 'right.txt'), `${s.passphrase}\n`);
  const credential = await loadCredentialFile(KEY_BUNDLE);
  addAssertion(s, 'assertion', await createClientAssertion(credential, { clientId: CLIENT, audience: AUD, includeX5c: true }));
  const other = readFileSync(path.join(fixturesDir, 'pem-rsa-1024.pem'), 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/)![0];
  entra = await startEntraServer({
    tenantId: TENANT,
    clients: [
      { clientId: CLIENT, certificates: [s.certPem], secret: s.clientSecret },
      { clientId: UNREGISTERED, certificates: [other] },
    ],
  });
  closedPort = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  env = baseEnv({ PW_RIGHT: s.passphrase, PW_WRONG: s.wrong, AZURE_CLIENT_SECRET: s.clientSecret, AZURE_CLIENT_CERTIFICATE_PASSWORD: s.wrong });
}, 60_000);

afterAll(async () => {
  await entra?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  console.log(`[hardening] CLI hygiene: ${runs} CLI runs (subprocess), ${scan?.checks ?? 0} sentinel checks`);
  await mergeCounts('CLI hygiene (subprocess)', { cliRuns: runs, sentinelChecks: scan?.checks ?? 0 });
});

interface Expect {
  /** Exit status: 1 by default. */
  code?: number;
  /** The stderr's first line starts with `x-assertion: <code>:`. */
  error?: string;
  /** Sentinel names allowed on stdout (none by default). */
  stdoutAllowed?: string[];
  /** Whether stdout may carry a JWT (the assertion `sign` made, the token `token` got). */
  stdoutJwt?: boolean;
}

/** Run the CLI, then scan both streams. */
async function run(label: string, args: string[], expected: Expect = {}, options: { env?: Record<string, string>; input?: string } = {}): Promise<RunResult> {
  runs++;
  const r = await runCli(args, { env: options.env ?? env, timeoutMs: 20_000, ...(options.input === undefined ? {} : { input: options.input }) });
  checkRun(label, r, expected);
  return r;
}

function checkRun(label: string, r: RunResult, expected: Expect): void {
  const where = `${label}\n  stderr: ${r.stderr.split('\n')[0]}`;
  expect(r.code, where).toBe(expected.code ?? 1);
  if (expected.error) expect(r.stderr, where).toMatch(new RegExp(`^x-assertion: ${expected.error}: `));
  if (expected.code !== 0) expect(r.stderr, `${where}: one typed error line`).toMatch(/^x-assertion: ERR_[A-Z0-9_]+: /);
  expect(r.stderr, `${where}: an unexpected error`).not.toContain('ERR_UNEXPECTED');
  scan.expectClean(`${label} (stderr)`, r.stderr);
  scan.expectNoJwt(`${label} (stderr)`, r.stderr);
  scan.expectClean(`${label} (stdout)`, r.stdout, expected.stdoutAllowed ?? []);
  if (!expected.stdoutJwt) scan.expectNoJwt(`${label} (stdout)`, r.stdout);
}

/** Run cases two at a time (the machine has two cores). */
async function runAll(cases: Array<() => Promise<unknown>>): Promise<void> {
  const queue = [...cases];
  await Promise.all([0, 1].map(async () => {
    for (let next = queue.shift(); next; next = queue.shift()) await next();
  }));
}

const keyArgs = (v: { file: string; keyFile?: string }) => [v.file, ...(v.keyFile ? ['--key', v.keyFile] : [])];
const signArgs = ['--client-id', CLIENT, '--audience', AUD];

describe('wrong and missing passphrases, every encrypted kind, every command that opens a key', () => {
  it('sign: a wrong passphrase (env, file, AZURE_CLIENT_CERTIFICATE_PASSWORD is not used by sign) and none', async () => {
    const cases: Array<() => Promise<unknown>> = [];
    for (const [kind, v] of Object.entries(variants)) {
      cases.push(() => run(`sign ${kind} --passphrase-env (wrong) --debug`, ['sign', ...keyArgs(v), ...signArgs, '--passphrase-env', 'PW_WRONG', '--debug'], { error: 'ERR_BAD_PASSPHRASE' }));
      cases.push(() => run(`sign ${kind} (no passphrase) --debug`, ['sign', ...keyArgs(v), ...signArgs, '--debug'], { error: 'ERR_PASSPHRASE_REQUIRED' }));
    }
    cases.push(() => run('sign --passphrase-file (wrong) --debug', ['sign', variants['pfx-default']!.file, ...signArgs, '--passphrase-file', path.join(dir, 'wrong.txt'), '--debug'], { error: 'ERR_BAD_PASSPHRASE' }));
    await runAll(cases);
  });

  it('thumbprint, jwks and inspect --cert of an encrypted PFX: a wrong passphrase', async () => {
    const cases: Array<() => Promise<unknown>> = [];
    for (const kind of ['pfx-default', 'pfx-legacy', 'pfx-nomac', 'pfx-3des']) {
      const { file } = variants[kind]!;
      cases.push(() => run(`thumbprint ${kind} --passphrase-file (wrong) --debug`, ['thumbprint', file, '--passphrase-file', path.join(dir, 'wrong.txt'), '--debug'], { error: 'ERR_BAD_PASSPHRASE' }));
      cases.push(() => run(`jwks ${kind} --passphrase-env (wrong) --debug`, ['jwks', file, '--entra', '--passphrase-env', 'PW_WRONG', '--debug'], { error: 'ERR_BAD_PASSPHRASE' }));
      cases.push(() => run(`inspect <assertion> --cert ${kind} (wrong) --debug`, ['inspect', s.all.get('assertion (compact JWS)')!, '--cert', file, '--passphrase-env', 'PW_WRONG', '--debug'], { error: 'ERR_BAD_PASSPHRASE' }));
      cases.push(() => run(`thumbprint ${kind} (no passphrase, stdin not a TTY) --debug`, ['thumbprint', file, '--debug'], { error: 'ERR_PASSPHRASE_REQUIRED' }));
    }
    await runAll(cases);
  });

  it('thumbprint --key, jwks of a bundle: the key is opened with a wrong passphrase', async () => {
    await runAll([
      () => run('thumbprint --key (wrong) --debug', ['thumbprint', ...keyArgs(variants['pkcs8-aes256 key file']!), '--passphrase-env', 'PW_WRONG', '--debug'], { error: 'ERR_BAD_PASSPHRASE' }),
      () => run('thumbprint --key scrypt (none) --debug', ['thumbprint', ...keyArgs(variants['pkcs8-scrypt key file']!), '--debug'], { error: 'ERR_PASSPHRASE_REQUIRED' }),
    ]);
  });
});

describe('inspect: the assertion given stays off both streams', () => {
  it('failures and reports: wrong audience, wrong certificate, malformed, from stdin, --json', async () => {
    const jwt = s.all.get('assertion (compact JWS)')!;
    const cert = path.join(dir, 'cert.pem');
    await runAll([
      () => run('inspect --cert, wrong audience --debug', ['inspect', jwt, '--cert', cert, '--audience', 'https://elsewhere/', '--debug'], { error: 'ERR_INVALID_ASSERTION' }),
      () => run('inspect --cert other certificate --json --debug', ['inspect', jwt, '--cert', path.join(fixturesDir, 'pem-rsa-1024.pem'), '--json', '--debug'], { error: 'ERR_INVALID_ASSERTION' }),
      () => run('inspect - (stdin) --cert, wrong client id', ['inspect', '-', '--cert', cert, '--client-id', 'someone-else', '--debug'], { error: 'ERR_INVALID_ASSERTION' }, { input: jwt }),
      () => run('inspect, signature segment damaged', ['inspect', `${jwt.slice(0, -6)}AAAAAA`, '--cert', cert, '--debug'], { error: 'ERR_INVALID_ASSERTION' }),
      () => run('inspect, a malformed JWT', ['inspect', `${jwt}.extra`, '--debug'], { error: 'ERR_MALFORMED_JWT' }),
      () => run('inspect, header and claims swapped', ['inspect', jwt.split('.').reverse().join('.'), '--debug'], { error: 'ERR_MALFORMED_JWT' }),
      () => run('inspect, no --cert: decodes only', ['inspect', jwt, '--json'], { code: 0 }),
    ]);
  });
});

describe('token: failures after the key is opened and the assertion is signed', () => {
  const tokenArgs = (v: { file: string; keyFile?: string }) => ['token', ...keyArgs(v), '--tenant', TENANT, '--scope', GRAPH, '--debug'];

  it('an unreachable 127.0.0.1 port (right passphrase; the key was decrypted)', async () => {
    await runAll(
      ['pfx-default', 'pkcs8-aes256 bundle', 'traditional-aes256 key file'].map(
        (kind) => () =>
          run(`token ${kind} → closed port --debug`, [...tokenArgs(variants[kind]!), '--client-id', CLIENT, '--authority-host', `http://127.0.0.1:${closedPort}`, '--passphrase-env', 'PW_RIGHT'], { error: 'ERR_NETWORK' }),
      ),
    );
  });

  it('a wrong passphrase from AZURE_CLIENT_CERTIFICATE_PASSWORD, and AZURE_CLIENT_CERTIFICATE_PATH holding PEM text instead of a path', async () => {
    await run('token (AZURE_CLIENT_CERTIFICATE_PASSWORD wrong) --debug', [...tokenArgs(variants['pfx-default']!), '--client-id', CLIENT, '--authority-host', entra.url], { error: 'ERR_BAD_PASSPHRASE' });
    await run(
      'token (AZURE_CLIENT_CERTIFICATE_PATH = the key PEM) --debug',
      ['token', '--tenant', TENANT, '--scope', GRAPH, '--client-id', CLIENT, '--authority-host', entra.url, '--debug'],
      { error: 'ERR_FILE_READ' },
      { env: { ...env, AZURE_CLIENT_CERTIFICATE_PATH: s.certPem + s.keyPem } },
    );
  });

  it('the Entra dev server: an unregistered certificate (the assertion it received stays off the streams)', async () => {
    const before = entra.requests.length;
    const r = await run('token, unregistered certificate --debug', [...tokenArgs(variants['pfx-default']!), '--client-id', UNREGISTERED, '--authority-host', entra.url, '--passphrase-env', 'PW_RIGHT'], { error: 'ERR_OAUTH_ERROR' });
    const sent = entra.requests.slice(before).map((q) => q.form.client_assertion).filter((a): a is string => typeof a === 'string');
    expect(sent.length).toBeGreaterThan(0);
    sent.forEach((a, i) => addAssertion(s, `assertion sent by token #${i + 1}`, a));
    checkRun('token, unregistered certificate (with the sent assertion)', r, { error: 'ERR_OAUTH_ERROR' });
  });

  it('faulty answers carrying sentinel access tokens: never printed when the command fails', async () => {
    const faults = [
      { label: 'expires_in nonsense', fault: { kind: 'status', status: 200, body: { access_token: s.accessToken, token_type: 'Bearer', expires_in: 'soon' } } },
      { label: 'no expires_in, JWT-shaped token', fault: { kind: 'status', status: 200, body: { access_token: s.accessTokenJwt, token_type: 'Bearer' } } },
      { label: 'token_type nonsense', fault: { kind: 'status', status: 200, body: { access_token: s.accessTokenJwt, token_type: s.accessToken, expires_in: 3599 } } },
      { label: 'OAuth error body with a token in it', fault: { kind: 'status', status: 401, body: { error: 'invalid_client', error_description: 'AADSTS700027: Client assertion failed.', access_token: s.accessToken, error_codes: [700027] } } },
      { label: 'a real token expiring on arrival', fault: { kind: 'expires-in', value: -5 } },
    ] as const;
    for (const { label, fault } of faults) {
      entra.fail(fault as never);
      const issued = entra.issued.length;
      const r = await runCli([...tokenArgs(variants['pfx-default']!), '--client-id', CLIENT, '--authority-host', entra.url, '--passphrase-env', 'PW_RIGHT'], { env, timeoutMs: 20_000 });
      runs++;
      entra.issued.slice(issued).forEach((t, i) => s.add(`access token issued (${label}) #${i + 1}`, t.token));
      checkRun(`token, ${label} --debug`, r, {});
    }
  });

  it('success: only the token on stdout, nothing on stderr', async () => {
    const r = await run('token, success', [...tokenArgs(variants['pkcs8-scrypt bundle']!), '--client-id', CLIENT, '--authority-host', entra.url, '--passphrase-env', 'PW_RIGHT'], { code: 0, stdoutJwt: true });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(entra.issued.at(-1)!.token);
  });
});

describe('usage errors never echo an argument that may be a secret', () => {
  it('a passphrase, an assertion or key text where the command line did not expect them', async () => {
    const jwt = s.all.get('assertion (compact JWS)')!;
    const pfxFile = variants['pfx-default']!.file;
    await runAll([
      () => run('sign <file> <passphrase as an extra argument>', ['sign', pfxFile, s.passphrase, ...signArgs, '--debug'], { code: 2, error: 'ERR_USAGE' }),
      () => run('inspect <jwt> <jwt> (one too many)', ['inspect', jwt, jwt, '--debug'], { code: 2, error: 'ERR_USAGE' }),
      () => run('<assertion> without a command', [jwt, '--debug'], { code: 2, error: 'ERR_USAGE' }),
      () => run('--passphrase=<passphrase> before the command', [`--passphrase=${s.passphrase}`, 'sign', pfxFile, ...signArgs], { code: 2, error: 'ERR_USAGE' }),
      () => run('sign --passphrase=<passphrase>', ['sign', pfxFile, `--passphrase=${s.passphrase}`, ...signArgs, '--debug'], { code: 2, error: 'ERR_USAGE' }),
      () => run('sign --password <passphrase>', ['sign', pfxFile, '--password', s.passphrase, ...signArgs, '--debug'], { code: 2, error: 'ERR_USAGE' }),
      () => run('sign "<key PEM text>" as the file', ['sign', s.keyPem, ...signArgs, '--debug'], { code: 2, error: 'ERR_USAGE' }),
      () => run('thumbprint <base64 of the key> as the file', ['thumbprint', s.keyPem.replace(/-----[A-Z ]+-----|\n/g, ''), '--debug'], { error: 'ERR_FILE_READ' }),
      () => run('sign --key=<key PEM text>', ['sign', path.join(dir, 'cert.pem'), `--key=${s.keyPem}`, ...signArgs, '--debug'], { error: 'ERR_FILE_READ' }),
      () => run('sign --client-secret <secret>', ['sign', pfxFile, '--client-secret', s.clientSecret, ...signArgs, '--debug'], { code: 2, error: 'ERR_USAGE' }),
      () => run('token --scope <secret> --unknown', ['token', pfxFile, '--tenant', TENANT, '--client-id', CLIENT, '--scope', GRAPH, s.clientSecret, '--debug'], { code: 2, error: 'ERR_USAGE' }),
    ]);
  });

  it('successful commands print no key material', async () => {
    const pfxFile = variants['pfx-default']!.file;
    await runAll([
      () => run('thumbprint --json (right passphrase)', ['thumbprint', pfxFile, '--json', '--passphrase-env', 'PW_RIGHT'], { code: 0 }),
      () => run('jwks --entra (right passphrase)', ['jwks', pfxFile, '--entra', '--passphrase-file', path.join(dir, 'right.txt')], { code: 0 }),
      () => run('jwks of a plain bundle', ['jwks', KEY_BUNDLE], { code: 0 }),
      () => run('sign (right passphrase): only the assertion on stdout', ['sign', pfxFile, ...signArgs, '--passphrase-env', 'PW_RIGHT', '--x5c'], { code: 0, stdoutJwt: true }),
    ]);
  });
});
