/**
 * `main()` in-process with injected streams: the passphrase prompt on a
 * (fake) terminal, passphrase sources, and error and usage paths.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SENTINEL, WRONG, baseEnv, fakeTty, makeFixtures, opensslFingerprint, runMain, type Fixtures } from './helpers.js';

let fx: Fixtures;
const AUD = 'https://login.microsoftonline.com/contoso/oauth2/v2.0/token';
const outputs: string[] = [];
async function run(...a: Parameters<typeof runMain>) {
  const r = await runMain(...a);
  outputs.push(r.stdout, r.stderr);
  return r;
}

beforeAll(() => {
  fx = makeFixtures();
});
afterAll(() => fx?.cleanup());

describe('passphrase prompt', () => {
  it('on a TTY, prompts on stderr without echo (raw mode) and opens the PFX', async () => {
    const tty = fakeTty(`${SENTINEL}\r`);
    const r = await run(['thumbprint', fx.rsaPfx, '--json'], { stdin: tty });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).sha1).toBe(opensslFingerprint(fx.rsaCert, 'sha1'));
    expect(r.stderr).toBe(`Passphrase for ${fx.rsaPfx}: \n`);
    expect(tty.rawModes).toEqual([true, false]);
  });

  it('backspace edits the typed passphrase', async () => {
    const tty = fakeTty(`${SENTINEL}X\u007f\n`);
    const r = await run(['sign', fx.rsaPfx, '--client-id', 'c', '--audience', AUD], { stdin: tty });
    expect(r.code).toBe(0);
  });

  it('Ctrl-C cancels the prompt (exit 1)', async () => {
    const r = await run(['thumbprint', fx.rsaPfx], { stdin: fakeTty('abc\u0003') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/x-assertion: ERR_PROMPT_CANCELLED: /);
  });

  it('does not prompt when nothing is encrypted, even on a TTY', async () => {
    const tty = fakeTty('');
    const r = await run(['sign', fx.rsaBundle, '--client-id', 'c', '--audience', AUD], { stdin: tty });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(tty.rawModes).toEqual([]);
  });

  it('does not prompt when stdin is not a TTY: ERR_PASSPHRASE_REQUIRED', async () => {
    const r = await run(['thumbprint', fx.rsaPfx]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^x-assertion: ERR_PASSPHRASE_REQUIRED: [^\n]+\n$/);
  });
});

describe('passphrase sources', () => {
  it('--passphrase-env and --passphrase-file open a PFX and an encrypted key', async () => {
    const env = baseEnv({ MY_PASS: SENTINEL });
    for (const args of [
      ['thumbprint', fx.rsaPfx, '--passphrase-env', 'MY_PASS'],
      ['thumbprint', fx.rsaPfx, '--passphrase-file', fx.passFile],
      ['thumbprint', fx.rsaCert, '--key', fx.rsaKeyEncrypted, '--passphrase-file', fx.passFile],
      ['sign', fx.rsaCert, '--key', fx.rsaKeyEncrypted, '--passphrase-env', 'MY_PASS', '--client-id', 'c', '--audience', AUD],
    ]) {
      const r = await run(args, { env });
      expect(r.stderr, args.join(' ')).toBe('');
      expect(r.code).toBe(0);
    }
  });

  it('a passphrase file without a trailing newline works too', async () => {
    const file = join(fx.dir, 'pass-nonl.txt');
    writeFileSync(file, SENTINEL);
    expect((await run(['thumbprint', fx.rsaPfx, '--passphrase-file', file])).code).toBe(0);
  });

  it('an unset --passphrase-env variable or unreadable file is ERR_PASSPHRASE_SOURCE (exit 1)', async () => {
    const a = await run(['thumbprint', fx.rsaPfx, '--passphrase-env', 'NOT_SET_ANYWHERE']);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/^x-assertion: ERR_PASSPHRASE_SOURCE: Environment variable NOT_SET_ANYWHERE/);
    const b = await run(['thumbprint', fx.rsaPfx, '--passphrase-file', join(fx.dir, 'nope.txt')]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/^x-assertion: ERR_PASSPHRASE_SOURCE: /);
  });

  it('both sources at once is a usage error', async () => {
    const r = await run(['thumbprint', fx.rsaPfx, '--passphrase-env', 'A', '--passphrase-file', fx.passFile]);
    expect(r.code).toBe(2);
  });

  it('a wrong passphrase is ERR_BAD_PASSPHRASE; --debug adds a stack, never the passphrase', async () => {
    const env = baseEnv({ MY_PASS: WRONG });
    const r = await run(['thumbprint', fx.rsaPfx, '--passphrase-env', 'MY_PASS', '--debug'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^x-assertion: ERR_BAD_PASSPHRASE: /);
    expect(r.stderr).toMatch(/\n\s+at /);
    expect(r.stderr).not.toContain(WRONG);
  });
});

describe('errors', () => {
  it('a missing file is ERR_FILE_READ (exit 1), one line', async () => {
    const r = await run(['thumbprint', join(fx.dir, 'missing.pem')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^x-assertion: ERR_FILE_READ: [^\n]+\n$/);
  });

  it('sign: a certificate without its key is ERR_NO_PRIVATE_KEY', async () => {
    const r = await run(['sign', fx.rsaCert, '--client-id', 'c', '--audience', AUD]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^x-assertion: ERR_NO_PRIVATE_KEY: /);
  });

  it('sign: --alg the key cannot make and an unknown --alg are both usage errors (exit 2)', async () => {
    const a = await run(['sign', fx.rsaBundle, '--client-id', 'c', '--audience', AUD, '--alg', 'ES256']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/^x-assertion: ERR_USAGE: --alg ES256 /);
    const b = await run(['sign', fx.rsaBundle, '--client-id', 'c', '--audience', AUD, '--alg', 'HS256']);
    expect(b.code).toBe(2);
    const c = await run(['sign', fx.rsaBundle, '--client-id', 'c', '--audience', AUD, '--thumbprint', 'sha1']);
    expect(c.code).toBe(2);
  });

  it('inspect: not a JWT is ERR_MALFORMED_JWT; a wrong expected client id is invalid (exit 1)', async () => {
    const a = await run(['inspect', 'not.a-jwt']);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/^x-assertion: ERR_MALFORMED_JWT: /);
    const jwt = (await run(['sign', fx.rsaBundle, '--client-id', 'app-1', '--audience', AUD])).stdout.trim();
    const b = await run(['inspect', jwt, '--cert', fx.rsaDer, '--client-id', 'app-2', '--json']);
    expect(b.code).toBe(1);
    const report = JSON.parse(b.stdout);
    expect(report.verification.problems.map((p: { code: string }) => p.code)).toEqual(['CLIENT_ID_MISMATCH']);
    const c = await run(['inspect', jwt, '--cert', fx.rsaDer, '--client-id', 'app-1', '--audience', AUD, '--json']);
    expect(c.code).toBe(0);
    expect(JSON.parse(c.stdout)).toMatchObject({ claims: { iss: 'app-1', sub: 'app-1', aud: AUD }, verification: { valid: true, problems: [] } });
  });

  it('inspect without --cert decodes only (exit 0), reading stdin with -', async () => {
    const jwt = (await run(['sign', fx.ecBundle, '--client-id', 'app-1', '--audience', AUD, '--x5c'])).stdout;
    const r = await run(['inspect', '-'], { input: jwt });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}alg +ES256$/m);
    expect(r.stdout).toMatch(/^ {2}x5c +\[1 certificate\(s\); --json shows them\]$/m);
    expect(r.stdout).not.toMatch(/verification/);
  });
});

describe('jwks', () => {
  it('--alg sets alg on every key, and must fit the key; a repeated certificate is listed once', async () => {
    const r = await run(['jwks', fx.rsaCert, fx.rsaBundle, fx.rsaDer, fx.rsa2Cert, '--alg', 'RS256']);
    expect(r.code).toBe(0);
    const { keys } = JSON.parse(r.stdout);
    expect(keys.map((k: { alg: string }) => k.alg)).toEqual(['RS256', 'RS256']);
    const bad = await run(['jwks', fx.ecCert, '--alg', 'RS256']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^x-assertion: ERR_USAGE: --alg RS256 /);
  });

  it('EC keys: ES256 JWK; --entra warns on stderr that Entra takes RSA only', async () => {
    const j = await run(['jwks', fx.ecCert]);
    expect(JSON.parse(j.stdout).keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    const e = await run(['jwks', '--entra', fx.ecCert]);
    expect(e.code).toBe(0);
    expect(e.stderr).toMatch(/warning: .*RSA certificates only/);
    expect(JSON.parse(e.stdout).keyCredentials).toHaveLength(1);
  });

  it('a PFX needs its passphrase', async () => {
    const r = await run(['jwks', fx.rsaPfx, '--passphrase-file', fx.passFile]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).keys[0].x5t).toBe(Buffer.from(opensslFingerprint(fx.rsaCert, 'sha1'), 'hex').toString('base64url'));
  });
});

describe('global', () => {
  it('--version, help <command>, --debug before the command', async () => {
    expect((await run(['--version'])).stdout).toBe('0.1.0\n');
    const h = await run(['help', 'sign']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^usage: x-assertion sign /);
    const d = await run(['--debug', 'thumbprint', join(fx.dir, 'missing.pem')]);
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/\n\s+at /);
  });

  it('an unknown global option is a usage error', async () => {
    const r = await run(['--verbose', 'thumbprint', fx.rsaCert]);
    expect(r.code).toBe(2);
  });

  it('no passphrase in any output above', () => {
    for (const out of outputs) {
      expect(out).not.toContain(SENTINEL);
      expect(out).not.toContain(WRONG);
    }
  });
});
