/**
 * The fleet example, run for real (`node fleet.mjs`, built packages, its own
 * redis-server and token endpoint): the cold fleet makes one token request,
 * nothing fails, and the steady phase makes at most one request per refresh
 * interval for the whole fleet, never one per process. Prints no token.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

const FLEET = fileURLToPath(new URL('./fleet.mjs', import.meta.url));

test('examples/fleet: 4 processes × 10 cold calls → 1 token request; steady state ≤ 1 request per refresh', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [FLEET, '--workers', '4', '--concurrency', '10', '--seconds', '2'], { timeout: 120_000 });
  expect(stdout).toMatch(/cold +4 × 10 concurrent getToken: 1 token request\(s\), 1 distinct token\(s\), 0 failed/);
  const steady = /steady .*: (\d+) token request\(s\), (\d+) failed/.exec(stdout);
  expect(steady, stdout).not.toBeNull();
  expect(Number(steady![2])).toBe(0);
  expect(Number(steady![1])).toBeLessThanOrEqual(2 + 1); // refresh_in 1 s over 2 s; per process it would be ~8
  expect(stdout).not.toMatch(/eyJ[\w-]{8,}/);
});
