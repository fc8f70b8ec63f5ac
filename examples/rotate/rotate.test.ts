/**
 * The rotation example, run for real as a subprocess (`node rotate.mjs`,
 * built packages, `x-assertion` as its own subprocess, oidc-provider on
 * 127.0.0.1).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCertificate, loadCredential, loadCredentialFile } from '@x/assertion';
import { makeSelfSignedPfx } from '@x/examples-shared';
import { afterAll, describe, expect, test } from 'vitest';

const ROTATE = fileURLToPath(new URL('./rotate.mjs', import.meta.url));
const JWT_SHAPED = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AZURE_|NODE_OPTIONS$)/.test(k)));
  return { ...env, ...extra };
}

function rotate(args: string[], env = cleanEnv()): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ROTATE, ...args], { env, timeout: 20_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

interface Summary {
  thumbprints: { x5t: string; 'x5t#S256': string; sha1Hex: string; sha256Hex: string };
}

describe.concurrent('examples/rotate', () => {
  test('--json: two thumbprints, JWKS and keyCredentials with both, a verified assertion, the new file picked up', async () => {
    const { code, stdout, stderr } = await rotate(['--json']);
    expect(code, stderr).toBe(0);
    expect(stderr).toBe('');
    const report = JSON.parse(stdout) as {
      ok: boolean;
      current: Summary;
      next: Summary;
      jwks: { keys: Array<Record<string, unknown>> };
      keyCredentials: Array<Record<string, unknown>>;
      testAssertion: {
        header: Record<string, unknown>;
        claims: Record<string, unknown>;
        verifiedWithNewCertificate: { valid: boolean; problems: unknown[] };
        verifiedWithOldCertificate: { valid: boolean; problems: string[] };
      };
      pickup: {
        before: { status: number; 'x5t#S256': string };
        after: { status: number; 'x5t#S256': string };
        rotationEvent: { previousThumbprint: string; thumbprint: string };
        tokenRequests: number;
        cachedTokenServedAfterSwap: boolean;
      };
    };
    const [oldT, newT] = [report.current.thumbprints, report.next.thumbprints];
    expect(report.ok).toBe(true);
    expect(newT['x5t#S256']).not.toBe(oldT['x5t#S256']);

    // JWKS: old and new side by side, public parameters only.
    expect(report.jwks.keys.map((k) => k['kid'])).toEqual([oldT['x5t#S256'], newT['x5t#S256']]);
    expect(report.jwks.keys.map((k) => k['x5t'])).toEqual([oldT.x5t, newT.x5t]);
    for (const key of report.jwks.keys) {
      expect(key).toMatchObject({ kty: 'RSA', use: 'sig', alg: 'PS256' });
      for (const privateMember of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(key).not.toHaveProperty(privateMember);
    }
    // Entra keyCredentials: the portal thumbprint (SHA-1 hex) and the DER of each certificate.
    expect(report.keyCredentials.map((k) => k['customKeyIdentifier'])).toEqual([oldT.sha1Hex, newT.sha1Hex]);
    for (const [i, entry] of report.keyCredentials.entries()) {
      expect(entry).toMatchObject({ type: 'AsymmetricX509Cert', usage: 'Verify' });
      expect(loadCertificate(Buffer.from(entry['key'] as string, 'base64')).thumbprints).toEqual([oldT, newT][i]);
    }

    // The test assertion: valid with the new certificate, not with the old one.
    expect(report.testAssertion.header).toMatchObject({ alg: 'PS256', 'x5t#S256': newT['x5t#S256'], kid: newT['x5t#S256'] });
    expect(report.testAssertion.claims).toMatchObject({ iss: 'rotate-demo', sub: 'rotate-demo' });
    expect(report.testAssertion.verifiedWithNewCertificate).toEqual({ valid: true, problems: [] });
    expect(report.testAssertion.verifiedWithOldCertificate.valid).toBe(false);
    expect(report.testAssertion.verifiedWithOldCertificate.problems).toContain('BAD_SIGNATURE');

    // The running credential: old certificate before the swap, new one after, no restart.
    expect(report.pickup.before).toMatchObject({ status: 200, 'x5t#S256': oldT['x5t#S256'] });
    expect(report.pickup.after).toMatchObject({ status: 200, 'x5t#S256': newT['x5t#S256'] });
    expect(report.pickup.rotationEvent).toMatchObject({ previousThumbprint: oldT['x5t#S256'], thumbprint: newT['x5t#S256'] });
    expect(report.pickup.tokenRequests).toBe(2);
    expect(report.pickup.cachedTokenServedAfterSwap).toBe(true);

    expect(stdout).not.toMatch(JWT_SHAPED); // header and claims only: no assertion, no token
  });

  test('--cert <pfx> --out-dir: rotates a given certificate and keeps the files (text trace)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'x-rotate-test-'));
    dirs.push(dir);
    const passphrase = `pp-${randomBytes(12).toString('hex')}`;
    const currentPath = join(dir, 'app.pfx');
    await writeFile(currentPath, makeSelfSignedPfx({ commonName: 'my-app', passphrase }).pfx);
    const current = await loadCredentialFile(currentPath, { passphrase });
    const out = join(dir, 'next');

    const { code, stdout, stderr } = await rotate(
      ['--cert', currentPath, '--out-dir', out, '--client-id', 'my-app', '--days', '30'],
      cleanEnv({ AZURE_CLIENT_CERTIFICATE_PASSWORD: passphrase }),
    );
    expect(code, stderr + stdout).toBe(0);
    const next = await loadCredential({ pfx: await readFile(join(out, 'new.pfx')), passphrase }); // same passphrase
    expect(next.kid).not.toBe(current.kid);
    expect(Math.round((next.notAfter.getTime() - Date.now()) / 86_400_000)).toBe(30);
    expect(loadCertificate(await readFile(join(out, 'old.crt'))).kid).toBe(current.kid);
    expect(loadCertificate(await readFile(join(out, 'new.crt'))).kid).toBe(next.kid);
    const jwks = JSON.parse(await readFile(join(out, 'jwks.json'), 'utf8')) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((k) => k.kid)).toEqual([current.kid, next.kid]);
    const entra = JSON.parse(await readFile(join(out, 'key-credentials.json'), 'utf8')) as { keyCredentials: Array<{ customKeyIdentifier: string }> };
    expect(entra.keyCredentials.map((k) => k.customKeyIdentifier)).toEqual([current.thumbprints.sha1Hex, next.thumbprints.sha1Hex]);

    // The trace names both thumbprints and what the server saw, before and after.
    expect(stdout).toContain(`before the swap the server saw x5t#S256 ${current.kid} → HTTP 200`);
    expect(stdout).toMatch(new RegExp(`next token request: +x5t#S256 ${next.kid.replace(/[-_]/g, '\\$&')} → HTTP 200`));
    expect(stdout).toContain('Done: both keys registered');
    expect(stdout + stderr).not.toContain(passphrase);
    expect(stdout).not.toMatch(JWT_SHAPED);
  });

  test('--out-dir without AZURE_CLIENT_CERTIFICATE_PASSWORD is a usage error (exit 2)', async () => {
    const { code, stderr } = await rotate(['--out-dir', join(tmpdir(), 'never-created')]);
    expect(code).toBe(2);
    expect(stderr).toContain('--out-dir needs AZURE_CLIENT_CERTIFICATE_PASSWORD');
  });
});
