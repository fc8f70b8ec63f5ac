/**
 * `pnpm -s demo --json` as a user types it from the repo root: the build runs
 * silently (the root script's `pnpm --silent run build`), so stdout is the
 * JSON report alone and parses whole.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('pnpm demo --json', () => {
  test('stdout is one JSON document: the report, nothing before or after it', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|NODE_OPTIONS$)/.test(k)));
    const { stdout } = await run('npx', ['-y', 'pnpm@10.34.9', '--silent', 'demo', '--json'], { cwd: ROOT, env, timeout: 180_000 });
    const report = JSON.parse(stdout) as {
      certificate: { subject: string };
      cache: { hit: boolean; tokenRequestsSent: number };
      resource: { status: number; body: { ok: boolean } };
    };
    expect(report.certificate.subject).toBe('CN=demo-daemon');
    expect(report.cache).toMatchObject({ hit: true, tokenRequestsSent: 1 });
    expect(report.resource).toMatchObject({ status: 200, body: { ok: true } });
  }, 240_000);
});
