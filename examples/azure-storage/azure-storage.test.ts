/**
 * The Azure Storage example, run for real as a subprocess (`node
 * azure-storage.mjs --json`, which imports the built packages): a real
 * `@azure/storage-blob` client with `ClientCertificateCredential` against
 * Azurite 3.35 (https, `--oauth basic`, `--disableTelemetry`) started and
 * stopped by the example, tokens from the local Entra-shaped endpoint.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';

const run = promisify(execFile);
const EXAMPLE = fileURLToPath(new URL('./azure-storage.mjs', import.meta.url));

describe('examples/azure-storage', () => {
  test('container, upload, list, download, delete through Azurite with a certificate-backed token; Azurite stopped by PID', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AZURE_|NODE_OPTIONS$)/.test(k)));
    const { stdout } = await run(process.execPath, [EXAMPLE, '--json'], { env, timeout: 90_000 });
    const report = JSON.parse(stdout) as {
      azurite: { url: string; pid: number; flags: string[] };
      operations: Array<{ name: string; status: number; names?: string[] }>;
      downloadedMatches: boolean;
      getTokenCalls: number;
      asked: Array<{ scopes: string | string[]; options: string[]; enableCae: boolean }>;
      tokenRequests: number;
      claimsParameter: string;
      token: Record<string, string>;
    };
    expect(report.azurite.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(report.azurite.flags).toEqual(expect.arrayContaining(['--oauth', '--inMemoryPersistence', '--skipApiVersionCheck', '--disableTelemetry']));
    expect(report.operations).toEqual([
      { name: 'create container', status: 201 },
      { name: 'upload blob', status: 201 },
      { name: 'list blobs', status: 200, names: ['hello.txt'] },
      { name: 'download blob', status: 200 },
      { name: 'delete container', status: 202 },
    ]);
    expect(report.downloadedMatches).toBe(true);
    // What the SDK asked for, and what reached the token endpoint: one request, with the CAE client capability.
    expect(report.asked[0]).toMatchObject({ scopes: ['https://storage.azure.com/.default'], enableCae: true });
    expect(report.asked[0]!.options).toEqual(expect.arrayContaining(['abortSignal', 'enableCae']));
    expect(report.tokenRequests).toBe(1);
    expect(JSON.parse(report.claimsParameter)).toEqual({ access_token: { xms_cc: { values: ['cp1'] } } });
    expect(report.token).toMatchObject({ aud: 'https://storage.azure.com', ver: '1.0' });
    expect(report.token['iss']).toMatch(/^https:\/\/sts\.windows\.net\//);
    // Azurite is gone: its PID no longer names a process.
    expect(() => process.kill(report.azurite.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(stdout).not.toMatch(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/);
  }, 120_000);
});
