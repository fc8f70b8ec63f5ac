/**
 * The Azure SDK example: `tsc` type-checks it against `@azure/core-auth`
 * (the credential typed as `TokenCredential`, and a `@ts-expect-error` that a
 * secret string is refused) and compiles it to `dist/`; then the compiled
 * program runs for real as a subprocess against the local Entra ID-shaped
 * token endpoint and API.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';

const run = promisify(execFile);
const TSC = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
const PROJECT = fileURLToPath(new URL('./tsconfig.json', import.meta.url));
const MAIN = fileURLToPath(new URL('./dist/main.js', import.meta.url));

describe('examples/azure-sdk', () => {
  test('type-checks against @azure/core-auth, compiles, and runs against the local Entra server + API', async () => {
    const compiled = await run(process.execPath, [TSC, '-p', PROJECT]).catch((e: { stdout: string }) => {
      throw new Error(`tsc failed:\n${e.stdout}`);
    });
    expect(compiled.stdout).toBe('');

    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AZURE_|NODE_OPTIONS$)/.test(k)));
    const passphrase = 'azure-sdk-test-passphrase';
    const { stdout, stderr } = await run(process.execPath, [MAIN, '--local', '--json'], {
      env: { ...env, AZURE_CLIENT_CERTIFICATE_PASSWORD: passphrase },
      timeout: 20_000,
    });
    expect(stderr).toBe('');
    const report = JSON.parse(stdout) as {
      mode: string;
      credential: { clientId: string; certificate: { certificate: { thumbprints: Record<string, string> } } };
      calls: Array<{ status: number; body: { ok: boolean; client_id: string } }>;
      getTokenCalls: number;
      tokenRequests: number;
      assertionHeader: Record<string, unknown>;
    };
    expect(report.mode).toBe('local');
    // The API accepted the bearer token the client got from the credential, twice…
    expect(report.calls).toHaveLength(2);
    for (const call of report.calls) expect(call).toMatchObject({ status: 200, body: { ok: true, client_id: report.credential.clientId } });
    // …with one token request: the second getToken was answered from the credential's cache.
    expect(report.getTokenCalls).toBe(2);
    expect(report.tokenRequests).toBe(1);
    // The token endpoint saw an assertion signed with the configured certificate.
    expect(report.assertionHeader).toMatchObject({ alg: 'PS256', 'x5t#S256': report.credential.certificate.certificate.thumbprints['x5t#S256'] });
    expect(stdout).not.toContain(passphrase);
    expect(stdout).not.toMatch(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/);
  }, 40_000);
});
