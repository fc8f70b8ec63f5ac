/**
 * Issue 11, "The rotation workflow without openssl": create-certificate writes
 * a PFX that openssl reads (OpenSSL 3's default encoding) and whose
 * thumbprint openssl and x-assertion agree on.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baseEnv, opensslFingerprint, runMain } from './helpers.js';

const PASS = 'Cr3ate-cert-S3ntinel-91c2';
const env = baseEnv({ NEW_PASS: PASS });
const dir = mkdtempSync(join(tmpdir(), 'x-assertion-create-'));
const p = (name: string) => join(dir, name);
const outputs: string[] = [];
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]) {
  const r = await runMain(args, { env });
  outputs.push(r.stdout, r.stderr);
  return r;
}
const openssl = (args: string[]) => execFileSync('openssl', args, { env: { ...process.env, NEW_PASS: PASS }, stdio: ['ignore', 'pipe', 'pipe'] });

describe('create-certificate', () => {
  it.each([
    ['rsa-2048', 'RSA', 2048],
    ['rsa-3072', 'RSA', 3072],
    ['ec-p256', 'EC', 256],
  ] as const)('--key %s: openssl pkcs12 -info and openssl x509 read it; the thumbprints agree', async (kind, keyType, bits) => {
    const r = await run(['create-certificate', '--subject', 'CN=my-daemon, O=Example', '--key', kind, '--days', '30', '--out', p(`${kind}.pfx`), '--pem', p(`${kind}.pem`), '--passphrase-env', 'NEW_PASS', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout);
    expect(printed.subject).toBe('CN=my-daemon, O=Example');
    expect(printed.keyType).toBe(keyType);
    if (keyType === 'RSA') expect(printed.keySize).toBe(bits);
    else expect(printed.curve).toBe('P-256');
    expect(statSync(p(`${kind}.pfx`)).mode & 0o777).toBe(0o600);

    // OpenSSL 3's default encoding, as `openssl pkcs12 -info` describes it (on stderr).
    const info = execFileSync('sh', ['-c', `openssl pkcs12 -info -noout -in '${p(`${kind}.pfx`)}' -passin env:NEW_PASS 2>&1`], { env: { ...process.env, NEW_PASS: PASS } }).toString();
    expect(info).toMatch(/MAC: sha256, Iteration 2048/);
    expect(info).toMatch(/PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/);
    expect(info).toMatch(/Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/);

    // The certificate inside the PFX, extracted by openssl, and the --pem file: the same thumbprint everywhere.
    const extracted = p(`${kind}-extracted.crt`);
    openssl(['pkcs12', '-in', p(`${kind}.pfx`), '-nokeys', '-passin', 'env:NEW_PASS', '-out', extracted]);
    for (const cert of [extracted, p(`${kind}.pem`)]) {
      expect(opensslFingerprint(cert, 'sha1')).toBe(printed.sha1);
      expect(opensslFingerprint(cert, 'sha256')).toBe(printed.sha256);
    }
    const thumbprint = JSON.parse((await run(['thumbprint', p(`${kind}.pfx`), '--passphrase-env', 'NEW_PASS', '--json'])).stdout);
    expect(thumbprint.sha1).toBe(printed.sha1);
    // Self-signed and an end entity: openssl verifies it against itself; CA:FALSE.
    expect(openssl(['verify', '-CAfile', p(`${kind}.pem`), p(`${kind}.pem`)]).toString()).toMatch(/: OK/);
    expect(openssl(['x509', '-in', p(`${kind}.pem`), '-noout', '-text']).toString()).toMatch(/CA:FALSE/);
  });

  it('the new certificate signs: jwks --entra old+new lists both, sign works with the new PFX', async () => {
    const r = await run(['jwks', '--entra', p('rsa-2048.pfx'), p('rsa-3072.pfx'), '--passphrase-env', 'NEW_PASS']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).keyCredentials).toHaveLength(2);
    const s = await run(['sign', p('rsa-2048.pfx'), '--passphrase-env', 'NEW_PASS', '--client-id', 'c', '--audience', 'https://login.example.com/t']);
    expect(s.code).toBe(0);
  });

  it('never overwrites a file', async () => {
    const before = readFileSync(p('rsa-2048.pfx'));
    const r = await run(['create-certificate', '--subject', 'CN=x', '--out', p('rsa-2048.pfx'), '--passphrase-env', 'NEW_PASS']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^x-assertion: ERR_FILE_WRITE: .*exists/);
    expect(readFileSync(p('rsa-2048.pfx')).equals(before)).toBe(true);
  });

  it.each([
    [['--subject', 'O=Example', '--out', 'a.pfx', '--passphrase-env', 'NEW_PASS'], /needs a CN/],
    [['--subject', 'CN=a\\,b', '--out', 'a.pfx', '--passphrase-env', 'NEW_PASS'], /without escapes/],
    [['--subject', 'XX=a', '--out', 'a.pfx', '--passphrase-env', 'NEW_PASS'], /attr one of/],
    [['--subject', 'CN=a', '--out', 'a.pfx', '--key', 'rsa-1024', '--passphrase-env', 'NEW_PASS'], /--key must be one of/],
    [['--subject', 'CN=a', '--out', 'a.pfx', '--days', '0', '--passphrase-env', 'NEW_PASS'], /--days must be a positive integer number of days/],
    [['--subject', 'CN=a', '--out', 'a.pfx'], /A passphrase is needed/],
    [['--subject', 'CN=a', '--passphrase-env', 'NEW_PASS'], /--out/],
  ])('%j is a usage error and writes nothing', async (args, message) => {
    const r = await run(['create-certificate', ...args.map((a) => (a === 'a.pfx' ? p('a.pfx') : a))]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(existsSync(p('a.pfx'))).toBe(false);
  });

  it('the passphrase appears in no output', () => {
    expect(outputs.length).toBeGreaterThan(10);
    for (const out of outputs) expect(out).not.toContain(PASS);
  });
});
