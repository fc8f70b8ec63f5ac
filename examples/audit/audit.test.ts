/**
 * The audit example, run for real as a subprocess (`node audit.mjs`, built
 * packages): its self-test, and audits of assertions made here — from an
 * argument, from stdin, inside a captured request line — good, tampered and
 * expired.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClientAssertion, loadCredential, type CertificateCredential } from '@x/assertion';
import { makeSelfSignedPfx } from '@x/examples-shared';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const AUDIT = fileURLToPath(new URL('./audit.mjs', import.meta.url));
const CLIENT_ID = 'audit-test-client';
const AUDIENCE = 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token';
const PASSPHRASE = 'audit-test-passphrase';

let dir: string;
let certPath: string;
let pfxPath: string;
let credential: CertificateCredential;
let jwt: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'x-audit-test-'));
  const made = makeSelfSignedPfx({ commonName: 'audit-test', passphrase: PASSPHRASE });
  certPath = join(dir, 'app.crt');
  pfxPath = join(dir, 'app.pfx');
  await writeFile(certPath, made.certificatePem);
  await writeFile(pfxPath, made.pfx);
  credential = await loadCredential({ pfx: made.pfx, passphrase: PASSPHRASE });
  jwt = await createClientAssertion(credential, { clientId: CLIENT_ID, audience: AUDIENCE });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function audit(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) {
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AZURE_|NODE_OPTIONS$)/.test(k))), ...options.env };
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, [AUDIT, ...args], { env, timeout: 15_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
    child.stdin!.end(options.stdin ?? '');
  });
}

interface Report {
  valid: boolean;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  checks: Array<{ name: string; status: 'pass' | 'fail' | 'skip' }>;
  problems: Array<{ code: string }>;
}
const statuses = (r: Report) => Object.fromEntries(r.checks.map((c) => [c.name, c.status]));
const codes = (r: Report) => r.problems.map((p) => p.code);

describe.concurrent('examples/audit', () => {
  test('--self-test: a good assertion passes, a tampered one and another certificate fail', async () => {
    const text = await audit(['--self-test']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('self-test passed');
    expect(text.stdout.match(/=> as expected/g)).toHaveLength(3);

    const json = await audit(['--self-test', '--json']);
    const result = JSON.parse(json.stdout) as { passed: boolean; selfTest: Array<{ passed: boolean; report: Report }> };
    expect(result.passed).toBe(true);
    const [good, tampered, other] = result.selfTest.map((r) => r.report);
    expect(good!.valid).toBe(true);
    expect(codes(tampered!)).toEqual(expect.arrayContaining(['BAD_SIGNATURE', 'CLIENT_ID_MISMATCH']));
    expect(codes(other!)).toEqual(expect.arrayContaining(['BAD_SIGNATURE', 'THUMBPRINT_MISMATCH']));
  });

  test('a good assertion on stdin: exit 0, every claim, every check', async () => {
    const { code, stdout, stderr } = await audit(['--cert', certPath, '--client-id', CLIENT_ID, '--audience', AUDIENCE, '--json'], { stdin: `${jwt}\n` });
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout) as Report;
    expect(report.valid).toBe(true);
    expect(report.header).toMatchObject({ alg: 'PS256', 'x5t#S256': credential.thumbprints['x5t#S256'], x5t: credential.thumbprints.x5t });
    expect(report.claims).toMatchObject({ iss: CLIENT_ID, sub: CLIENT_ID, aud: AUDIENCE });
    expect(Object.keys(report.claims).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'sub']);
    const s = statuses(report);
    expect(Object.entries(s).filter(([, v]) => v !== 'pass')).toEqual([['x5c', 'skip']]);
    expect(Object.keys(s)).toHaveLength(17);
    expect(stdout).not.toContain(jwt.split('.')[2]); // never the signature
  });

  test('a tampered assertion (exp extended after signing) as an argument: exit 1, the failed checks named (text output)', async () => {
    const [h, p, sig] = jwt.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, exp: (claims['exp'] as number) + 600 })).toString('base64url')}.${sig}`;
    const { code, stdout } = await audit(['--cert', certPath, forged]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/FAIL +signature +BAD_SIGNATURE/);
    expect(stdout).toMatch(/pass +jti/);
    expect(stdout).toMatch(/skip +client-id +.*no --client-id given/);
    expect(stdout).toContain('result: INVALID (1 problem: BAD_SIGNATURE)');
    expect(stdout).not.toContain(sig);
  });

  test('a captured request line: the client_assertion field is audited; --at decides expiry', async () => {
    const line =
      `2026-01-15T10:30:12Z POST /contoso.onmicrosoft.com/oauth2/v2.0/token body=grant_type=client_credentials&client_id=${CLIENT_ID}` +
      `&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=${encodeURIComponent(jwt)}&scope=x%2F.default\n`;
    const now = await audit(['--cert', certPath, '--json', '-'], { stdin: line });
    expect(now.code, now.stderr).toBe(0);
    const later = await audit(['--cert', certPath, '--json', '--at', new Date(Date.now() + 3_600_000).toISOString()], { stdin: line });
    expect(later.code).toBe(1);
    expect(codes(JSON.parse(later.stdout) as Report)).toEqual(['EXPIRED']);
  });

  test('the certificate from a PFX (AZURE_CLIENT_CERTIFICATE_PASSWORD); a wrong expected audience fails', async () => {
    const { code, stdout } = await audit(['--cert', pfxPath, '--audience', 'https://elsewhere.example/token', '--json', jwt], {
      env: { AZURE_CLIENT_CERTIFICATE_PASSWORD: PASSPHRASE },
    });
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as Report;
    expect(codes(report)).toEqual(['AUDIENCE_MISMATCH']);
    expect(statuses(report)['signature']).toBe('pass');
    expect(stdout).not.toContain(PASSPHRASE);
  });

  test('usage errors exit 2', async () => {
    expect((await audit([jwt])).code).toBe(2); // no --cert
    expect((await audit(['--cert', join(dir, 'missing.crt'), jwt])).code).toBe(2);
  });
});
