/**
 * Secret hygiene of @x/assertion, and of the CLI run in-process over the
 * whole fixture matrix (hardening issue, part 4). Sentinels: a random
 * passphrase (and a wrong one), the fixture passphrases, the private key's
 * PEM body lines and JWK private members (of the sentinel key, and of every
 * key a fixture yields), a client secret, access tokens and signed
 * assertions with their signature segments.
 *
 * None may appear in an error's message, stack, own properties or `cause`
 * chain (walked), in `util.inspect` / `JSON.stringify` / `String` of
 * credentials, JWKs, reports and errors, in the CLI's stdout/stderr (with
 * `--debug`), or in the `x-token` diagnostics-channel events the CLI's
 * `token` command emits. The subprocess matrix of the built CLI is in
 * packages/cli/test/hygiene.test.ts.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import {
  CertificateCredential,
  createClientAssertion,
  loadCertificate,
  loadCredential,
  loadCredentialFile,
  prepareClientAssertion,
  verifyClientAssertion,
  type CredentialInput,
  type ExternalSigner,
} from '@x/assertion';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../packages/cli/src/main.js';
import { fixturesDir, readManifest } from '../setup/fixtures.js';
import { KEY_BUNDLE, Scanner, addAssertion, makeSentinels, writeEncryptedVariants, type Sentinels } from './sentinels.js';
import { mergeCounts } from './support.js';

const CLIENT = '0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b';
const AUD = 'https://login.example/tenant/oauth2/v2.0/token';
const manifest = readManifest().filter((e) => !e.skip);
const at = (file: string) => path.join(fixturesDir, file);

let s: Sentinels;
let scan: Scanner;
let dir: string;
let variants: Record<string, { file: string; keyFile?: string }>;
let sentinelCredential: CertificateCredential;

beforeAll(async () => {
  s = makeSentinels();
  scan = new Scanner(s);
  for (const e of manifest) if (e.passphrase) s.add(`fixture passphrase ${JSON.stringify(e.passphrase)}`, e.passphrase);
  dir = await mkdtemp(path.join(tmpdir(), 'x-hygiene-'));
  variants = await writeEncryptedVariants(dir, s);
  sentinelCredential = await loadCredentialFile(KEY_BUNDLE);
  addAssertion(s, 'assertion', await createClientAssertion(sentinelCredential, { clientId: CLIENT, audience: AUD, includeX5c: true }));
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  console.log(`[hardening] @x/assertion + CLI in-process hygiene: ${scan?.checks ?? 0} sentinel checks`);
  await mergeCounts('@x/assertion + CLI in-process hygiene', { sentinelChecks: scan?.checks ?? 0 });
});

/** The failure of `promise`, which must be a typed error. */
async function failure(promise: Promise<unknown> | (() => unknown)): Promise<Error & { code: string }> {
  const error = await (typeof promise === 'function' ? Promise.resolve().then(promise) : promise).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a failure').toBeInstanceOf(Error);
  expect((error as { code?: unknown }).code).toMatch(/^ERR_/);
  return error as Error & { code: string };
}

/** The private material of a loaded key, as extra sentinels for one credential's checks. */
function keyMaterial(credential: CertificateCredential): string[] {
  const jwk = credential.privateKey.export({ format: 'jwk' });
  return [jwk.d, jwk.p, jwk.q, jwk.dp, jwk.dq, jwk.qi].filter((v): v is string => typeof v === 'string');
}

/** A loaded credential shows no secret: inspect, JSON, String, its JWK, its assertion's header and report. */
async function expectCleanCredential(label: string, credential: CertificateCredential): Promise<void> {
  const own = keyMaterial(credential);
  const texts = [
    JSON.stringify(credential),
    inspect(credential, { depth: Infinity, showHidden: true }),
    String(credential),
    JSON.stringify(await credential.toJwk()),
  ];
  for (const text of texts) {
    scan.expectClean(label, text);
    for (const m of own) {
      scan.checks++;
      expect(text.includes(m), `${label}: key material of the credential itself`).toBe(false);
    }
  }
  expect(await credential.toJwk()).not.toHaveProperty('d');
  scan.expectCleanObject(`${label} credential`, credential);
}

// Encrypted (or MAC-protected) fixtures that a wrong passphrase does not open. The
// 600,000-iteration one takes a second per derivation and shares its paths with
// pfx-openssl3-default.
const encrypted = manifest.filter(
  (e) => e.passphrase && e.expect === 'ok' && (e.kind === 'pfx' || e.kind === 'pem') && !e.file.includes('unencrypted-nomac') && !e.name.includes('iter-600k'),
);

describe('@x/assertion: wrong and missing passphrases over every encrypted fixture', () => {
  it('covers every encrypted kind of the matrix', () => {
    expect(encrypted.length).toBeGreaterThan(35);
  });

  it.for(encrypted.map((e) => [e.name, e] as const))('%s', async ([name, entry]) => {
    const keyPath = entry.keyFile && at(entry.keyFile);
    const load = (passphrase: string | undefined) =>
      loadCredentialFile(at(entry.file), { ...(passphrase === undefined ? {} : { passphrase }), ...(keyPath && { keyPath }), ...entry.loadOptions });
    const bytes = readFileSync(at(entry.file));
    const input = (passphrase: string | undefined): CredentialInput =>
      keyPath
        ? { certificate: bytes, privateKey: readFileSync(keyPath), ...(passphrase === undefined ? {} : { passphrase }) }
        : entry.kind === 'pfx'
          ? { pfx: bytes, ...(passphrase === undefined ? {} : { passphrase }) }
          : { pem: bytes, ...(passphrase === undefined ? {} : { passphrase }) };

    const wrong = await failure(load(s.wrong));
    expect(['ERR_BAD_PASSPHRASE', 'ERR_ITERATION_LIMIT']).toContain(wrong.code);
    scan.expectCleanError(`${name}: wrong passphrase (file)`, wrong);
    scan.expectCleanError(`${name}: wrong passphrase (bytes)`, await failure(loadCredential(input(s.wrong), entry.loadOptions)));
    if (entry.passphrase !== '') {
      const missing = await failure(load(undefined));
      scan.expectCleanError(`${name}: no passphrase (file)`, missing);
      scan.expectCleanError(`${name}: no passphrase (bytes)`, await failure(loadCredential(input(undefined), entry.loadOptions)));
    }
    const credential = await load(entry.passphrase);
    await expectCleanCredential(`${name}: loaded`, credential);
  });

  it.for(['pkcs8-aes256 bundle', 'pkcs8-des3 key file', 'pkcs8-pbes1 bundle', 'pkcs8-scrypt key file', 'traditional-aes256 bundle', 'pfx-default', 'pfx-legacy', 'pfx-nomac', 'pfx-3des'])(
    'the sentinel passphrase: %s',
    async (kind) => {
      const v = variants[kind]!;
      const options = v.keyFile ? { keyPath: v.keyFile } : {};
      scan.expectCleanError(`${kind}: wrong`, await failure(loadCredentialFile(v.file, { ...options, passphrase: s.wrong })));
      scan.expectCleanError(`${kind}: missing`, await failure(loadCredentialFile(v.file, options)));
      scan.expectCleanError(`${kind}: wrong, low maxIterations`, await failure(loadCredentialFile(v.file, { ...options, passphrase: s.wrong, maxIterations: 1 })));
      await expectCleanCredential(kind, await loadCredentialFile(v.file, { ...options, passphrase: s.passphrase }));
    },
  );
});

describe('@x/assertion: inputs and options of the wrong shape carrying secrets', () => {
  it('passphrases, key text and assertions where they do not belong', async () => {
    const pfx = readFileSync(variants['pfx-default']!.file);
    const keyBase64 = s.keyPem.replace(/-----[A-Z ]+-----|\n/g, '');
    const cases: Array<[string, () => unknown]> = [
      ['loadCredential(key PEM text)', () => loadCredential(s.keyPem as never)],
      ['loadCredential(passphrase)', () => loadCredential(s.passphrase as never)],
      ['loadCredential({ pfx, passphrase: Buffer })', () => loadCredential({ pfx, passphrase: Buffer.from(s.passphrase) as never })],
      ['loadCredential({ pfx, passphrase: [passphrase] })', () => loadCredential({ pfx, passphrase: [s.passphrase] as never })],
      ['loadCredential({ pfx, passphrase: { value } })', () => loadCredential({ pfx, passphrase: { value: s.passphrase } as never })],
      ['loadCredential({ pfx, password })', () => loadCredential({ pfx, password: s.passphrase } as never)],
      ['loadCredential({ pfx }, { passphrase })', () => loadCredential({ pfx }, { passphrase: s.passphrase } as never)],
      ['loadCredential({ pfx: key PEM text })', () => loadCredential({ pfx: s.keyPem as never, passphrase: s.passphrase })],
      ['loadCredential({ pem: 12345, passphrase })', () => loadCredential({ pem: 12345 as never, passphrase: s.passphrase })],
      ['loadCredential({ pem: key, passphrase: number })', () => loadCredential({ pem: s.keyPem, passphrase: 12345 as never })],
      ['loadCredential({ certificate: key, privateKey: cert })', () => loadCredential({ certificate: s.keyPem, privateKey: s.certPem })],
      ['loadCredential({ certificate: base64 key, privateKey: base64 key })', () => loadCredential({ certificate: keyBase64, privateKey: keyBase64 })],
      ['loadCredential({ pem: key only })', () => loadCredential({ pem: s.keyPem })],
      ['loadCredential(options: maxIterations passphrase)', () => loadCredential({ pfx }, { maxIterations: s.passphrase } as never)],
      ['loadCredentialFile(key PEM text as the path)', () => loadCredentialFile(s.keyPem)],
      ['loadCredentialFile(base64 key as the path)', () => loadCredentialFile(keyBase64)],
      ['loadCredentialFile(assertion as the path)', () => loadCredentialFile(s.all.get('assertion (compact JWS)')!)],
      ['loadCredentialFile(keyPath: key PEM text)', () => loadCredentialFile(at('pem-separate-cert.pem'), { keyPath: s.keyPem })],
      ['loadCredentialFile(path, passphrase string)', () => loadCredentialFile(variants['pfx-default']!.file, s.passphrase as never)],
      ['loadCredentialFile(path, { passphrase: number })', () => loadCredentialFile(variants['pfx-default']!.file, { passphrase: 1234 as never })],
      ['loadCredentialFile(path, { pass })', () => loadCredentialFile(variants['pfx-default']!.file, { pass: s.passphrase } as never)],
      ['loadCredentialFile(bundle, { keyPath: passphrase })', () => loadCredentialFile(KEY_BUNDLE, { keyPath: 'S3NT1NEL-not-a-file' })],
      ['loadCertificate(key PEM)', () => loadCertificate(s.keyPem)],
      ['loadCertificate(base64 key)', () => loadCertificate(keyBase64)],
      ['loadCertificate(key DER)', () => loadCertificate(Buffer.from(keyBase64, 'base64'))],
      ['loadCertificate({ pem })', () => loadCertificate({ pem: s.keyPem } as never)],
      ['verifyClientAssertion(jwt, key PEM)', () => verifyClientAssertion(s.all.get('assertion (compact JWS)')!, s.keyPem)],
      ['createClientAssertion: passphrase option', () => createClientAssertion(sentinelCredential, { clientId: CLIENT, audience: AUD, passphrase: s.passphrase } as never)],
      ['createClientAssertion: registered claim carrying a secret', () => createClientAssertion(sentinelCredential, { clientId: CLIENT, audience: AUD, claims: { iss: s.clientSecret } })],
      ['createClientAssertion: clientId = object with secret', () => createClientAssertion(sentinelCredential, { clientId: { secret: s.clientSecret } as never, audience: AUD })],
      ['createClientAssertion: algorithm = secret', () => createClientAssertion(sentinelCredential, { clientId: CLIENT, audience: AUD, algorithm: s.clientSecret as never })],
      ['prepareClientAssertion.sign(overrides with a secret)', () => prepareClientAssertion(sentinelCredential, { clientId: CLIENT, audience: AUD }).sign({ jti: 5 as never, token: s.accessToken } as never)],
      ['signSync(overrides with a secret)', () => prepareClientAssertion(sentinelCredential, { clientId: CLIENT, audience: AUD }).signSync({ now: s.accessToken as never })],
    ];
    for (const [label, fn] of cases) scan.expectCleanError(label, await failure(fn));
  });

  it('verifyClientAssertion reports (bad audience, wrong certificate, damaged) carry no assertion or signature', async () => {
    const jwt = s.all.get('assertion (compact JWS)')!;
    const other = loadCertificate(readFileSync(at('pem-rsa-1024.pem'), 'utf8'));
    const reports = [
      await verifyClientAssertion(jwt, sentinelCredential, { audience: 'https://elsewhere/', clientId: 'x' }),
      await verifyClientAssertion(jwt, other),
      await verifyClientAssertion(`${jwt.slice(0, -4)}AAAA`, sentinelCredential),
      await verifyClientAssertion(jwt.split('.').reverse().join('.'), sentinelCredential),
      await verifyClientAssertion(jwt, sentinelCredential, { now: new Date(Date.now() + 86_400_000) }),
    ];
    for (const [i, report] of reports.entries()) {
      expect(report.valid).toBe(false);
      scan.expectCleanObject(`report ${i}`, report);
      for (const p of report.problems) scan.expectClean(`report ${i} ${p.code}`, p.message);
    }
  });
});

describe('@x/assertion: ExternalSigner errors', () => {
  const certificate = () => readFileSync(KEY_BUNDLE, 'utf8');
  const signer = (sign: ExternalSigner['sign'], cert: ExternalSigner['certificate'] = certificate()): ExternalSigner => ({ certificate: cert, sign });

  it('a failing or misbehaving signer: its secrets do not survive in the error', async () => {
    const withSecrets = Object.assign(new Error('Key Vault sign failed: 401'), {
      request: { headers: { authorization: `Bearer ${s.accessTokenJwt}` }, body: s.clientSecret },
      pin: s.passphrase,
      response: { bodyAsText: JSON.stringify({ access_token: s.accessToken }) },
      cause: Object.assign(new Error('inner'), { key: s.keyPem }),
    });
    const cases: Array<[string, ExternalSigner]> = [
      ['throws an error carrying secrets', signer(async () => Promise.reject(withSecrets))],
      ['rejects with an object carrying secrets', signer(async () => Promise.reject({ token: s.accessToken, secret: s.clientSecret, toString: () => 'vault error' }))],
      ['throws synchronously', signer(() => { throw withSecrets; })],
      ['returns the token as a string', signer(async () => s.accessToken as never)],
      ['returns nothing', signer(async () => undefined as never)],
      ['returns an empty signature', signer(async () => new Uint8Array(0))],
      ['a key PEM as its certificate', signer(async () => new Uint8Array(256), s.keyPem)],
      ['a passphrase as its certificate', signer(async () => new Uint8Array(256), s.passphrase)],
    ];
    for (const [label, external] of cases) {
      scan.expectCleanError(`ExternalSigner ${label}`, await failure(() => createClientAssertion(external, { clientId: CLIENT, audience: AUD })));
    }
    // ES256 needs exactly 64 raw bytes: an EC certificate makes the length check bite.
    const ec = readFileSync(at('pem-sec1-ec.pem'), 'utf8');
    scan.expectCleanError('ExternalSigner ES256 key bytes', await failure(() => createClientAssertion(signer(async () => Buffer.from(s.keyPem), ec), { clientId: CLIENT, audience: AUD })));
    scan.expectCleanError('ExternalSigner signSync', await failure(() => prepareClientAssertion(signer(async () => new Uint8Array(256)), { clientId: CLIENT, audience: AUD }).signSync()));
  });
});

describe('CLI in-process (main) over every encrypted fixture, with --debug', () => {
  async function cli(args: string[], env: Record<string, string> = {}, input?: string) {
    let stdout = '';
    let stderr = '';
    const code = await main(args, {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      stdin: Readable.from(input === undefined ? [] : [Buffer.from(input)]) as never,
      env: { PATH: process.env.PATH, AZURE_CLIENT_SECRET: s.clientSecret, ...env },
    });
    return { code, stdout, stderr };
  }

  function expectCleanRun(label: string, r: { code: number; stdout: string; stderr: string }, ok = false) {
    if (!ok) {
      expect(r.code, `${label}: ${r.stderr}`).not.toBe(0);
      expect(r.stderr).toMatch(/^x-assertion: ERR_[A-Z0-9_]+: /);
      expect(r.stderr).not.toContain('ERR_UNEXPECTED');
    }
    scan.expectClean(`${label} stderr`, r.stderr);
    scan.expectNoJwt(`${label} stderr`, r.stderr);
    scan.expectClean(`${label} stdout`, r.stdout);
  }

  it.for(encrypted.map((e) => [e.name, e] as const))('%s', async ([name, entry]) => {
    const file = at(entry.file);
    const keyArgs = entry.keyFile ? ['--key', at(entry.keyFile)] : [];
    const env = { PW: s.wrong };
    const sign = ['sign', file, ...keyArgs, '--client-id', CLIENT, '--audience', AUD, '--debug'];
    expectCleanRun(`${name}: sign, wrong`, await cli([...sign, '--passphrase-env', 'PW'], env));
    if (entry.passphrase !== '') expectCleanRun(`${name}: sign, missing`, await cli(sign));
    if (entry.kind === 'pfx') {
      expectCleanRun(`${name}: thumbprint, wrong`, await cli(['thumbprint', file, '--passphrase-env', 'PW', '--debug'], env));
      expectCleanRun(`${name}: jwks, wrong`, await cli(['jwks', file, '--passphrase-env', 'PW', '--debug'], env));
      expectCleanRun(`${name}: inspect --cert, wrong`, await cli(['inspect', '-', '--cert', file, '--passphrase-env', 'PW', '--debug'], env, s.all.get('assertion (compact JWS)')));
    }
  });

  it('token: the key is opened, the assertion signed, the endpoint unreachable — stderr and x-token events are clean', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = server.address() as { port: number };
        server.close(() => resolve(p));
      });
    });
    const events: unknown[] = [];
    const listener = (event: unknown) => void events.push(event);
    diagnostics_channel.subscribe('x-token', listener);
    try {
      // One kind (each run waits out the network retries); the subprocess suite runs three.
      for (const kind of ['traditional-aes256 key file']) {
        const v = variants[kind]!;
        const r = await cli(
          ['token', v.file, ...(v.keyFile ? ['--key', v.keyFile] : []), '--tenant', 't', '--client-id', CLIENT, '--scope', 'api://x/.default', '--authority-host', `http://127.0.0.1:${port}`, '--debug'],
          { AZURE_CLIENT_CERTIFICATE_PASSWORD: s.passphrase },
        );
        expectCleanRun(`token ${kind}`, r);
        expect(r.stderr).toMatch(/^x-assertion: ERR_NETWORK: /);
      }
    } finally {
      diagnostics_channel.unsubscribe('x-token', listener);
    }
    expect(events.length).toBeGreaterThan(0);
    for (const [i, event] of events.entries()) {
      scan.expectCleanObject(`x-token event ${i} (${(event as { type: string }).type})`, event);
      scan.expectNoJwt(`x-token event ${i}`, JSON.stringify(event));
    }
  });
});
