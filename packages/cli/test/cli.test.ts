/**
 * The built CLI driven as a subprocess (`node packages/cli/bin/x-assertion.js`)
 * on the main paths. Needs `pnpm run build` first.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate, createHash } from 'node:crypto';
import { importJWK, importX509, jwtVerify, decodeProtectedHeader, compactVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SENTINEL,
  WRONG,
  baseEnv,
  makeFixtures,
  opensslDate,
  opensslFingerprint,
  requireBuilt,
  runCli,
  type Fixtures,
} from './helpers.js';

let fx: Fixtures;
const AUD = 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token';
const CLIENT = '11111111-2222-3333-4444-555555555555';

beforeAll(() => {
  requireBuilt();
  fx = makeFixtures();
});
afterAll(() => fx?.cleanup());

const pemOf = (path: string) => readFileSync(path, 'utf8');
const derOf = (path: string) => new X509Certificate(readFileSync(path)).raw;

/** Every run's output: checked for the passphrase at the end. */
const outputs: string[] = [];
async function cli(args: string[], options: Parameters<typeof runCli>[1] = {}) {
  const r = await runCli(args, options);
  outputs.push(r.stdout, r.stderr);
  return r;
}

describe('thumbprint', () => {
  it('prints the thumbprints openssl computes, for a PEM certificate', async () => {
    const r = await cli(['thumbprint', fx.rsaCert]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^sha1: +${opensslFingerprint(fx.rsaCert, 'sha1')}$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^sha256: +${opensslFingerprint(fx.rsaCert, 'sha256')}$`, 'm'));
    expect(r.stdout).toMatch(/^subject: +CN=cli-test-rsa, O=X Test, C=GB$/m);
  });

  it('--json: the documented fields, for DER, PEM and PFX alike', async () => {
    const sha1 = opensslFingerprint(fx.rsaCert, 'sha1');
    const sha256 = opensslFingerprint(fx.rsaCert, 'sha256');
    const env = baseEnv({ PFX_PASS: SENTINEL });
    const runs = await Promise.all([
      cli(['thumbprint', fx.rsaCert, '--json']),
      cli(['thumbprint', fx.rsaDer, '--json']),
      cli(['thumbprint', fx.rsaBundle, '--json']),
      cli(['thumbprint', fx.rsaPfx, '--json', '--passphrase-env', 'PFX_PASS'], { env }),
    ]);
    for (const r of runs) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(Object.keys(j).sort()).toEqual(
        [
          'subject', 'issuer', 'serialNumber', 'notBefore', 'notAfter', 'validNow', 'keyType', 'keySize', 'curve',
          'defaultAlgorithm', 'kid', 'x5t', 'x5t#S256', 'sha1', 'sha256', 'chainLength',
        ].sort(),
      );
      expect(j.sha1).toBe(sha1);
      expect(j.sha256).toBe(sha256);
      expect(j.x5t).toBe(Buffer.from(sha1, 'hex').toString('base64url'));
      expect(j['x5t#S256']).toBe(Buffer.from(sha256, 'hex').toString('base64url'));
      expect(j.kid).toBe(j['x5t#S256']);
      expect(j).toMatchObject({ subject: 'CN=cli-test-rsa, O=X Test, C=GB', keyType: 'RSA', keySize: 2048, curve: null, validNow: true, defaultAlgorithm: 'PS256' });
      expect(j.notBefore).toBe(opensslDate(fx.rsaCert, 'startdate').toISOString().replace('.000Z', 'Z'));
      expect(j.notAfter).toBe(opensslDate(fx.rsaCert, 'enddate').toISOString().replace('.000Z', 'Z'));
    }
  });

  it('an encrypted PFX without a passphrase fails with ERR_PASSPHRASE_REQUIRED, exit 1, without prompting (stdin not a TTY)', async () => {
    const r = await cli(['thumbprint', fx.rsaPfx], { timeoutMs: 10_000 });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^x-assertion: ERR_PASSPHRASE_REQUIRED: [^\n]+\n$/);
    expect(r.stderr).not.toMatch(/passphrase for/i);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('sign', () => {
  it('prints a JWT alone that verifies with the certificate key and carries the defaults', async () => {
    const r = await cli(['sign', fx.rsaBundle, '--client-id', CLIENT, '--audience', AUD]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const jwt = r.stdout.trim();
    const key = await importX509(pemOf(fx.rsaCert), 'PS256');
    const { payload, protectedHeader } = await jwtVerify(jwt, key, { audience: AUD, issuer: CLIENT, subject: CLIENT, algorithms: ['PS256'] });
    const thumbs = JSON.parse((await cli(['thumbprint', fx.rsaCert, '--json'])).stdout);
    expect(protectedHeader).toEqual({ alg: 'PS256', typ: 'JWT', x5t: thumbs.x5t, 'x5t#S256': thumbs['x5t#S256'] });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(payload.exp! - Math.floor(Date.now() / 1000)).toBeGreaterThan(250);
    expect(payload.exp! - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(300);
  });

  it('honours --alg, --thumbprint, --x5c, --kid and --lifetime; PFX with --passphrase-file', async () => {
    const r = await cli([
      'sign', fx.rsaPfx, '--passphrase-file', fx.passFile, '--client-id', CLIENT, '--audience', AUD,
      '--alg', 'RS256', '--thumbprint', 'x5t', '--x5c', '--kid', 'key-2026', '--lifetime', '120',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const jwt = r.stdout.trim();
    const { payload, protectedHeader } = await jwtVerify(jwt, await importX509(pemOf(fx.rsaCert), 'RS256'), { audience: AUD, algorithms: ['RS256'] });
    expect(protectedHeader.alg).toBe('RS256');
    expect(protectedHeader.kid).toBe('key-2026');
    expect(protectedHeader.x5t).toBe(Buffer.from(opensslFingerprint(fx.rsaCert, 'sha1'), 'hex').toString('base64url'));
    expect(protectedHeader['x5t#S256']).toBeUndefined();
    expect(protectedHeader.x5c).toEqual([Buffer.from(derOf(fx.rsaCert)).toString('base64')]);
    expect(payload.exp! - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(120);
    expect(payload.exp! - Math.floor(Date.now() / 1000)).toBeGreaterThan(100);
  });

  it('a certificate with --key and an encrypted key (--passphrase-env); an EC certificate signs ES256', async () => {
    const env = baseEnv({ KEY_PASS: SENTINEL });
    const [rsa, ec] = await Promise.all([
      cli(['sign', fx.rsaCert, '--key', fx.rsaKeyEncrypted, '--passphrase-env', 'KEY_PASS', '--client-id', CLIENT, '--audience', AUD], { env }),
      cli(['sign', fx.ecBundle, '--client-id', CLIENT, '--audience', AUD]),
    ]);
    expect(rsa.stderr + ec.stderr).toBe('');
    await jwtVerify(rsa.stdout.trim(), await importX509(pemOf(fx.rsaCert), 'PS256'), { audience: AUD });
    expect(decodeProtectedHeader(ec.stdout.trim()).alg).toBe('ES256');
    await jwtVerify(ec.stdout.trim(), await importX509(pemOf(fx.ecCert), 'ES256'), { audience: AUD });
  });

  it('a wrong passphrase fails with ERR_BAD_PASSPHRASE; with --debug a stack, but never the passphrase', async () => {
    const env = baseEnv({ PFX_PASS: WRONG });
    const args = ['sign', fx.rsaPfx, '--passphrase-env', 'PFX_PASS', '--client-id', CLIENT, '--audience', AUD];
    const plain = await cli(args, { env });
    expect(plain.code).toBe(1);
    expect(plain.stdout).toBe('');
    expect(plain.stderr).toMatch(/^x-assertion: ERR_BAD_PASSPHRASE: [^\n]+\n$/);
    const debug = await cli([...args, '--debug'], { env });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/^x-assertion: ERR_BAD_PASSPHRASE: /);
    expect(debug.stderr).toMatch(/\n\s+at /);
    for (const out of [plain.stdout, plain.stderr, debug.stdout, debug.stderr]) expect(out).not.toContain(WRONG);
  });
});

describe('inspect', () => {
  let jwt: string;
  beforeAll(async () => {
    jwt = (await runCli(['sign', fx.rsaBundle, '--client-id', CLIENT, '--audience', AUD])).stdout.trim();
  });

  it('--cert: exit 0 and "valid" for a good assertion; times in ISO 8601', async () => {
    const r = await cli(['inspect', jwt, '--cert', fx.rsaCert, '--client-id', CLIENT, '--audience', AUD]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^header:\n {2}alg +PS256$/m);
    expect(r.stdout).toMatch(/^ {2}exp +\d+ \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$/m);
    expect(r.stdout).toMatch(/^verification: valid$/m);
    expect(r.stdout).not.toContain(jwt.split('.')[2]);
  });

  it('--cert: exit 1 for a tampered assertion, with the problems listed', async () => {
    const [h, p, s] = jwt.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${s}`;
    const r = await cli(['inspect', '-', '--cert', fx.rsaCert, '--json'], { input: `${tampered}\n` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^x-assertion: ERR_INVALID_ASSERTION: [^\n]+\n$/);
    const j = JSON.parse(r.stdout);
    expect(j.verification.valid).toBe(false);
    expect(j.verification.problems.map((x: { code: string }) => x.code)).toContain('BAD_SIGNATURE');
    expect(j.claims.sub).toBe('someone-else');
    expect(j.times.exp).toBe(new Date(claims.exp * 1000).toISOString().replace('.000Z', 'Z'));
  });
});

describe('jwks', () => {
  it('two certificates: two keys with distinct kids and their x5c; the keys verify assertions', async () => {
    const r = await cli(['jwks', fx.rsaBundle, fx.rsa2Cert]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { keys } = JSON.parse(r.stdout);
    expect(keys).toHaveLength(2);
    expect(new Set(keys.map((k: { kid: string }) => k.kid)).size).toBe(2);
    expect(keys[0].x5c).toEqual([Buffer.from(derOf(fx.rsaCert)).toString('base64')]);
    expect(keys[1].x5c).toEqual([Buffer.from(derOf(fx.rsa2Cert)).toString('base64')]);
    for (const k of keys) {
      expect(k).toMatchObject({ kty: 'RSA', use: 'sig', alg: 'PS256' });
      expect(k.d).toBeUndefined();
      expect(k.kid).toBe(k['x5t#S256']);
    }
    const jwt = (await cli(['sign', fx.rsa2Bundle, '--client-id', CLIENT, '--audience', AUD])).stdout.trim();
    await compactVerify(jwt, await importJWK(keys[1], 'PS256'));
  });

  it('--entra: keyCredentials entries for the app manifest / Microsoft Graph', async () => {
    const r = await cli(['jwks', '--entra', fx.rsaCert, fx.rsa2Cert]);
    expect(r.code).toBe(0);
    const { keyCredentials } = JSON.parse(r.stdout);
    expect(keyCredentials).toHaveLength(2);
    const [first] = keyCredentials;
    expect(Object.keys(first).sort()).toEqual(['customKeyIdentifier', 'displayName', 'endDateTime', 'key', 'keyId', 'startDateTime', 'type', 'usage']);
    expect(first).toMatchObject({
      customKeyIdentifier: opensslFingerprint(fx.rsaCert, 'sha1'),
      displayName: 'CN=cli-test-rsa, O=X Test, C=GB',
      key: Buffer.from(derOf(fx.rsaCert)).toString('base64'),
      type: 'AsymmetricX509Cert',
      usage: 'Verify',
      startDateTime: opensslDate(fx.rsaCert, 'startdate').toISOString().replace('.000Z', 'Z'),
      endDateTime: opensslDate(fx.rsaCert, 'enddate').toISOString().replace('.000Z', 'Z'),
    });
    expect(first.keyId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(keyCredentials[1].keyId).not.toBe(first.keyId);
    // Stable: the same certificate gives the same entry.
    const again = JSON.parse((await cli(['jwks', '--entra', fx.rsaCert])).stdout);
    expect(again.keyCredentials[0]).toEqual(first);
    expect(createHash('sha256').update(derOf(fx.rsaCert)).digest('hex').slice(0, 8)).toBe(first.keyId.slice(0, 8));
  });
});

describe('usage and help', () => {
  it.each([
    [['frobnicate'], /Unknown command 'frobnicate'/],
    [[], /Missing command/],
    [['sign', 'x.pem', '--audience', AUD], /Missing required option --client-id/],
    [['thumbprint', 'x.pem', '--bogus'], /Unknown option '--bogus'/],
    [['sign', 'x.pem', '--client-id', 'c', '--audience', AUD, '--lifetime', 'soon'], /--lifetime must be a positive integer/],
    [['sign', 'x.pem', '--passphrase', SENTINEL, '--client-id', 'c', '--audience', 'a'], /--passphrase is not accepted/],
    [['thumbprint'], /Missing <file>/],
  ])('%j exits 2 with the error line and a usage line', async (args, message) => {
    const r = await cli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^x-assertion: ERR_USAGE: /);
    expect(lines[0]).toMatch(message);
    expect(lines[1]).toMatch(/^usage: x-assertion /);
  });

  it('--help per command, on stdout, exit 0', async () => {
    for (const cmd of ['thumbprint', 'sign', 'inspect', 'jwks', 'token', 'create-certificate']) {
      const r = await cli([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout.startsWith(`usage: x-assertion ${cmd}`)).toBe(true);
    }
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Commands:/);
  });
});

describe('secrets', () => {
  it('the passphrase appears in no stdout or stderr of any run above (--debug runs included)', () => {
    expect(outputs.length).toBeGreaterThan(20);
    for (const out of outputs) expect(out).not.toContain(SENTINEL);
  });
});
