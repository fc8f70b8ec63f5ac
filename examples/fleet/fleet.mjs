#!/usr/bin/env node
// Fleet mode on one machine: a redis-server of our own, a local Entra-shaped
// token endpoint that counts requests, and N worker processes that each make
// M concurrent cold getToken calls, then keep calling for a while through
// token refreshes. Prints what the server saw: one token request for the
// whole cold fleet, and one per refresh afterwards — not one per process.
//
//   node examples/fleet/fleet.mjs [--workers 16] [--concurrency 25] [--seconds 4] [--redis-url redis://…]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startEntraServer } from '@x/devserver';
import { makeSelfSignedPfx } from '@x/examples-shared';
import { startRedis, startWorkers } from './fleet-lib.mjs';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '16' },
    concurrency: { type: 'string', default: '25' },
    seconds: { type: 'string', default: '4' },
    'redis-url': { type: 'string' },
  },
});
const WORKERS = Number(values.workers);
const CONCURRENCY = Number(values.concurrency);
const SECONDS = Number(values.seconds);
const TENANT = 'fleet-tenant';
const CLIENT = 'fleet-client';
const SCOPE = 'api://fleet-api/.default';

const dir = mkdtempSync(join(tmpdir(), 'x-fleet-'));
const passphrase = randomBytes(12).toString('hex');
const made = makeSelfSignedPfx({ commonName: CLIENT, passphrase });
const pfxPath = join(dir, 'client.pfx');
writeFileSync(pfxPath, made.pfx);

// Tokens due for refresh after 1 s (Entra's refresh_in), so a few seconds show several refreshes.
const entra = await startEntraServer({ tenantId: TENANT, clients: [{ clientId: CLIENT, certificates: [made.certificatePem] }], tokenLifetimeSeconds: 60, refreshInSeconds: 1 });
const redis = values['redis-url'] ? undefined : await startRedis();
const redisUrl = values['redis-url'] ?? redis.url;
let workers = [];
try {
  console.log(`redis      ${redis ? `redis-server pid ${redis.pid} on 127.0.0.1:${redis.port}` : 'given by --redis-url'}`);
  console.log(`authority  ${entra.url}`);
  workers = await startWorkers(WORKERS, {
    redisUrl,
    scope: SCOPE,
    tenantId: TENANT,
    clientId: CLIENT,
    certificate: { certificatePath: pfxPath, passphrase },
    authorityHost: entra.url,
    tokenEndpoint: entra.tokenEndpoint('v2'),
    // No encryptionKey: each worker derives the same AES key from the certificate's RSA private key.
    // 16 processes starting at once on a small machine can take seconds to answer: a wider command bound
    // than the 500 ms default keeps a slow Redis answer from counting as a failure (which would mean a local request).
    store: { commandTimeoutMs: 2_000 },
  });
  console.log(`workers    ${WORKERS} processes started`);

  const cold = await Promise.all(workers.map((w) => w.send({ cmd: 'burst', n: CONCURRENCY })));
  const coldFailed = cold.reduce((a, r) => a + r.failed, 0);
  const coldTokens = new Set(cold.flatMap((r) => r.hashes)).size;
  console.log(`cold       ${WORKERS} × ${CONCURRENCY} concurrent getToken: ${entra.requests.length} token request(s), ${coldTokens} distinct token(s), ${coldFailed} failed`);

  const before = entra.requests.length;
  const steady = await Promise.all(workers.map((w) => w.send({ cmd: 'loop', ms: SECONDS * 1000, gapMs: 10 })));
  const calls = steady.reduce((a, r) => a + r.calls, 0);
  const steadyFailed = steady.reduce((a, r) => a + r.failed, 0);
  console.log(`steady     ${SECONDS} s, refresh every 1 s, ${calls} getToken calls: ${entra.requests.length - before} token request(s), ${steadyFailed} failed`);
  if (process.env.FLEET_DEBUG) console.log(JSON.stringify(cold.map((r) => r.events)));
  console.log(`total      the token endpoint saw ${entra.requests.length} request(s) from ${WORKERS} processes`);
  process.exitCode = coldFailed + steadyFailed === 0 ? 0 : 1;
} finally {
  await Promise.all(workers.map((w) => w.stop()));
  await redis?.stop();
  await entra.close();
  rmSync(dir, { recursive: true, force: true });
}
