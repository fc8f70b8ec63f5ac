/**
 * Fuzz of the CLI's JWT decoding (`x-assertion inspect`, hardening issue
 * part 1): `decodeJwt` on random strings, broken segments and hostile JSON,
 * and the whole `inspect` command in-process (`main`), with and without
 * `--cert` and `--json`. Every input ends, within the bounds, in a decoded
 * header and claims that match the segments, or in a typed CLI error
 * (`ERR_MALFORMED_JWT`, `ERR_INVALID_ASSERTION`, …) — never `ERR_UNEXPECTED`.
 * Also: a 50 MB JWT, as an argument and on standard input (in-process and as
 * a subprocess of the built CLI).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { createClientAssertion, loadCredentialFile } from '@x/assertion';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from '../../packages/cli/src/commands/inspect.js';
import { CliError } from '../../packages/cli/src/errors.js';
import { main } from '../../packages/cli/src/main.js';
import { fixturesDir } from '../setup/fixtures.js';
import { Tally, expectBounded, measureBounded, repoRoot, watchUnhandledRejections } from './support.js';

const SEED = 0x5eed_2026;
const tally = new Tally('CLI inspect fuzz');
const rejections = watchUnhandledRejections();
const CERT = path.join(fixturesDir, 'pem-pkcs8-rsa.pem');
const AUD = 'https://login.example/tenant/oauth2/v2.0/token';
let jwt: string;

beforeAll(async () => {
  const credential = await loadCredentialFile(CERT);
  jwt = await createClientAssertion(credential, { clientId: 'fuzz', audience: AUD, includeX5c: true });
});

afterAll(async () => {
  await new Promise((r) => setTimeout(r, 50));
  rejections.dispose();
  await tally.report();
  expect(rejections.seen.map(String)).toEqual([]);
});

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const hostile = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, 1e300, -1e300, 8.64e15, -0, '', [], {}, { toString: 1 }, { valueOf: 1, toJSON: 1 }, { exp: { toString: 1 } }, { x5c: 'AAAA' }, { x5c: null }),
);

/** JWT-like strings: the real assertion with segments replaced, dropped, doubled, damaged. */
function jwtLike(): fc.Arbitrary<string> {
  const [h, p, s] = jwt.split('.') as [string, string, string];
  const segment = (original: string) =>
    fc.oneof(
      { weight: 3, arbitrary: fc.constant(original) },
      { weight: 2, arbitrary: hostile.map(b64) },
      { weight: 1, arbitrary: fc.base64String({ maxLength: 80 }) },
      { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
      { weight: 1, arbitrary: fc.constant('') },
      { weight: 1, arbitrary: fc.nat().map((i) => original.slice(0, i % (original.length + 1))) },
    );
  return fc
    .tuple(segment(h), segment(p), segment(s), fc.nat({ max: 5 }), fc.constantFrom('', ' ', '\n', '\t', '=='))
    .map(([a, b, c, shape, pad]) => [[a, b, c], [a, b], [a, b, c, c], [a], [a, b, c, ''], [a, b, `${c}${pad}`]][shape]!.join('.') + (shape === 0 ? pad : ''));
}

const inputs = () => fc.oneof({ weight: 3, arbitrary: jwtLike() }, fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.base64String({ maxLength: 200 }));

describe('decodeJwt', () => {
  it('decodes exactly the JSON objects in the first two of three segments, or throws ERR_MALFORMED_JWT', async () => {
    await fc.assert(
      fc.asyncProperty(inputs(), async (input) => {
        tally.add('decodeJwt');
        const m = await measureBounded(() => decodeJwt(input));
        tally.observe('decodeJwt', m);
        expectBounded(m, JSON.stringify(input.slice(0, 80)));
        if (!m.ok) {
          expect(m.error, String(m.error)).toBeInstanceOf(CliError);
          expect((m.error as CliError).code).toBe('ERR_MALFORMED_JWT');
          return;
        }
        const parts = input.split('.');
        expect(parts).toHaveLength(3);
        expect(m.value!.header).toEqual(JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')));
        expect(m.value!.claims).toEqual(JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')));
      }),
      { seed: SEED, numRuns: 3_000 },
    );
  });

  it('huge inputs: 50 MB, 12 million segments', async () => {
    for (const [label, input] of [
      ['50 MB JWT', `${b64({ alg: 'PS256', pad: 'x'.repeat(37_000_000) })}.e30.AA`],
      ['12 million dots', 'e30.'.repeat(12_000_000)],
    ] as const) {
      tally.add('decodeJwt huge');
      const m = await measureBounded(() => decodeJwt(input));
      tally.observe('decodeJwt huge', m);
      expectBounded(m, label);
      expect((m.error as CliError).code, label).toBe('ERR_MALFORMED_JWT');
    }
  });
});

describe('x-assertion inspect (in-process)', () => {
  async function inspectRun(args: string[], input?: string | Buffer) {
    let stdout = '';
    let stderr = '';
    const stdin = Readable.from(input === undefined ? [] : [typeof input === 'string' ? Buffer.from(input) : input]);
    const code = await main(['inspect', ...args], {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      stdin: stdin as never,
      env: { PATH: process.env.PATH },
    });
    return { code, stdout, stderr };
  }

  const TYPED = /^x-assertion: (ERR_MALFORMED_JWT|ERR_INVALID_ASSERTION|ERR_USAGE|ERR_INPUT_TOO_LARGE): /;

  it('every input: exit 0 with the decoded JSON, or a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(inputs(), fc.constantFrom<string[]>([], ['--json'], ['--cert', CERT], ['--cert', CERT, '--json', '--audience', AUD, '--client-id', 'fuzz']), async (input, options) => {
        tally.add(`inspect ${options.includes('--cert') ? '--cert' : 'decode'}`);
        const m = await measureBounded(() => inspectRun(['-', ...options], input));
        tally.observe(`inspect ${options.includes('--cert') ? '--cert' : 'decode'}`, m);
        expectBounded(m, JSON.stringify(input.slice(0, 80)));
        expect(m.ok).toBe(true);
        const r = m.value!;
        if (r.code === 0) {
          expect(r.stderr).toBe('');
          if (options.includes('--json')) expect(() => JSON.parse(r.stdout)).not.toThrow();
        } else {
          expect(r.stderr, r.stderr).toMatch(TYPED);
          expect(r.code).toBe(r.stderr.includes('ERR_USAGE') ? 2 : 1);
          if (r.stderr.includes('ERR_INVALID_ASSERTION') && options.includes('--json')) expect(JSON.parse(r.stdout).verification.valid).toBe(false);
        }
      }),
      { seed: SEED, numRuns: 700 },
    );
    // The real assertion itself verifies.
    expect((await inspectRun([jwt, '--cert', CERT, '--audience', AUD, '--client-id', 'fuzz'])).code).toBe(0);
  });

  it('a 50 MB JWT as an argument and on standard input', async () => {
    const big = `${b64({ alg: 'PS256', pad: 'x'.repeat(37_000_000) })}.e30.AA`;
    for (const [label, run] of [
      ['argument', () => inspectRun([big])],
      ['stdin', () => inspectRun(['-'], Buffer.from(big))],
    ] as const) {
      tally.add('inspect huge');
      const m = await measureBounded(run);
      tally.observe('inspect huge', m);
      expectBounded(m, label);
      expect(m.value!.stderr).toMatch(/^x-assertion: (ERR_MALFORMED_JWT|ERR_INPUT_TOO_LARGE): /);
    }
  });

  it('the built CLI: 50 MB on standard input ends in a typed error, without reading it all (≤ 20 s: 10× an idle run plus start-up)', async () => {
    const bin = path.join(repoRoot, 'packages/cli/bin/x-assertion.js');
    expect(readFileSync(bin, 'utf8')).toContain('main');
    tally.add('inspect huge (subprocess)');
    const started = performance.now();
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [bin, 'inspect', '-'], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdout.resume();
      child.stdin.on('error', () => undefined); // EPIPE: the CLI stops reading after 1 MiB
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error('x-assertion inspect - did not finish within 60 s'));
      }, 60_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
      child.stdin.end(Buffer.alloc(50 * 1024 * 1024, 0x65));
    });
    const ms = performance.now() - started;
    expect(result.stderr).toMatch(/^x-assertion: ERR_INPUT_TOO_LARGE: /);
    expect(result.code).toBe(1);
    expect(ms, `took ${ms.toFixed(0)} ms`).toBeLessThan(20_000); // an idle run takes ~0.3 s: the bound only catches unbounded work
  });
});
