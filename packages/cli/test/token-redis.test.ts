/**
 * `x-assertion token` with X_TOKEN_REDIS_URL: separate CLI processes share one
 * token through a real redis-server (started here on 127.0.0.1, stopped by
 * PID), so the devserver's Entra endpoint sees one token request for two runs.
 */
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { startEntraServer, type EntraServer } from '@x/devserver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript, shared with examples/fleet and the benchmark
import { startRedis } from '../../../examples/fleet/fleet-lib.mjs';
import { baseEnv, makeFixtures, requireBuilt, runCli, type Fixtures } from './helpers.js';

const TENANT = '7f0c1d2e-0000-4000-8000-0000000f1ee7';
const CLIENT = '0e1d2c3b-4a59-4687-9a0b-0000000f1ee7';
const GRAPH = 'https://graph.microsoft.com/.default';
const hasRedis = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!hasRedis)('token with X_TOKEN_REDIS_URL', () => {
  let fx: Fixtures;
  let entra: EntraServer;
  let redis: { url: string; stop(): Promise<void> };

  beforeAll(async () => {
    requireBuilt();
    fx = makeFixtures();
    entra = await startEntraServer({ tenantId: TENANT, clients: [{ clientId: CLIENT, certificates: [readFileSync(fx.rsaCert, 'utf8')] }] });
    redis = await startRedis({ password: 'cli-test-password' });
  });
  afterAll(async () => {
    await redis?.stop();
    await entra?.close();
    fx?.cleanup();
  });

  it('two processes, one token request; the second prints the same token', async () => {
    const args = ['token', fx.rsaBundle, '--tenant', TENANT, '--client-id', CLIENT, '--scope', GRAPH, '--authority-host', entra.url];
    const env = baseEnv({ X_TOKEN_REDIS_URL: redis.url });
    const first = await runCli(args, { env });
    const second = await runCli(args, { env });
    expect([first.code, second.code, first.stderr, second.stderr]).toEqual([0, 0, '', '']);
    expect(entra.requests.filter((r) => r.path.endsWith('/token'))).toHaveLength(1);
    expect(second.stdout).toBe(first.stdout);
    expect(first.stdout).toBe(`${entra.issued.at(-1)!.token}\n`);
  });

  it('an unreachable Redis does not fail the command: the token comes from the endpoint', async () => {
    const args = ['token', fx.rsaBundle, '--tenant', TENANT, '--client-id', CLIENT, '--scope', 'api://other/.default', '--authority-host', entra.url];
    const r = await runCli(args, { env: baseEnv({ X_TOKEN_REDIS_URL: 'redis://:secret-pw@127.0.0.1:1' }) });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${entra.issued.at(-1)!.token}\n`);
    expect(r.stderr).not.toContain('secret-pw');
  });
});
