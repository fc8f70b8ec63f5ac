#!/usr/bin/env node
// The fleet figure (issue 13): 16 processes sharing tokens through Redis with
// @x/token-redis, against a redis-server of our own and the devserver's
// Entra-shaped endpoint (it counts the token requests). Run alone:
//   npx -y pnpm@10.34.9 run build && node bench/figures/fleet.mjs [--json]
// or `node bench/run.mjs --only fleet`. Prints one table; exits non-zero if a
// target is missed. Processes: examples/fleet/worker.mjs (ours), fleet-msal-child.mjs (MSAL Node).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { startEntraServer } from '@x/devserver';
import { makeSelfSignedPfx } from '@x/examples-shared';
import { makeFixtures } from '../lib/fixtures.mjs';
import { startRedis, startWorkers } from '../../examples/fleet/fleet-lib.mjs';

const { values: flags } = parseArgs({ args: process.argv.slice(2).filter((a) => a !== '--'), options: { json: { type: 'boolean', default: false } }, strict: false });
const PROCESSES = 16;
const CONCURRENCY = 25;
const STEADY_SECONDS = 6;
const TENANT = 'bench-fleet-tenant';
const CLIENT = 'bench-fleet-client';
const log = (line) => process.stderr.write(`${line}\n`);

const dir = mkdtempSync(join(tmpdir(), 'x-bench-fleet-'));
const passphrase = randomBytes(12).toString('hex');
const made = makeSelfSignedPfx({ commonName: CLIENT, passphrase });
const pfxPath = join(dir, 'client.pfx');
writeFileSync(pfxPath, made.pfx);
const clients = [{ clientId: CLIENT, certificates: [made.certificatePem] }];
const entra = await startEntraServer({ tenantId: TENANT, clients });
const short = await startEntraServer({ tenantId: TENANT, clients, tokenLifetimeSeconds: 60, refreshInSeconds: 1 });
let redis = await startRedis();
const encryptionKeyHex = randomBytes(32).toString('hex');
const live = new Set();
let n = 0;
const scope = () => `api://bench-fleet-${++n}/.default`;
const requests = (server, s) => server.requests.filter((r) => r.form.scope === s).length;
const config = (server, s, extra = {}) => ({
  redisUrl: redis.url,
  scope: s,
  tenantId: TENANT,
  clientId: CLIENT,
  certificate: { certificatePath: pfxPath, passphrase },
  authorityHost: server.url,
  tokenEndpoint: server.tokenEndpoint('v2'),
  encryptionKeyHex,
  // Retries that cannot wait out a long Retry-After (as @x/token's tests use), so the 429 figure shows the fleet mark.
  retry: { maxAttempts: 2, initialDelayMs: 20, maxDelayMs: 100, maxElapsedMs: 5_000 },
  store: { retryAfterMs: 1_000 },
  ...extra,
});
async function fleet(count, cfg) {
  const workers = await startWorkers(count, cfg);
  for (const w of workers) live.add(w);
  return workers;
}
async function stop(workers) {
  await Promise.all(workers.map((w) => w.stop()));
  for (const w of workers) live.delete(w);
}
const all = (workers, command) => Promise.all(workers.map((w) => w.send(command)));
const failed = (answers) => answers.reduce((a, r) => a + r.failed, 0);
const rows = [];
const row = (figure, value, target, ok) => rows.push({ figure, value, target, met: ok === undefined ? '—' : ok ? 'yes' : 'NO' });

try {
  // 1. Cold: 16 × 25 concurrent first calls.
  log('fleet: cold burst');
  const coldScope = scope();
  const cold = await fleet(PROCESSES, config(entra, coldScope));
  const coldAnswers = await all(cold, { cmd: 'burst', n: CONCURRENCY });
  const coldRequests = requests(entra, coldScope);
  log(`fleet: cold events ${JSON.stringify(coldAnswers.reduce((t, a) => { for (const [k, v] of Object.entries(a.events)) t[k] = (t[k] ?? 0) + v; return t; }, {}))}`);
  row(`${PROCESSES} processes × ${CONCURRENCY} concurrent cold getToken → token requests`, `${coldRequests} (${failed(coldAnswers)} failed, ${new Set(coldAnswers.flatMap((a) => a.hashes)).size} distinct token)`, '1', coldRequests === 1 && failed(coldAnswers) === 0);

  // 2. Hit latency, in one of those processes.
  log('fleet: hit latency');
  const hits = await cold[0].send({ cmd: 'hits', n: 20_000 });
  row('getToken p50 / p99, L1 (in-process) hit (per call, batches of 100; no logger)', `${hits.l1.p50Us.toFixed(2)} µs / ${hits.l1.p99Us.toFixed(2)} µs`, '≤ 1 µs p50', hits.l1.p50Us <= 1);
  row('lookup p50 / p99, L2 (Redis) hit on loopback', `${(hits.l2.p50Us / 1000).toFixed(3)} ms / ${(hits.l2.p99Us / 1000).toFixed(3)} ms`, '≤ 1 ms p50', hits.l2.p50Us <= 1000);

  // 3. A first token with Redis up, for the cold-while-down comparison.
  // Median of 3 fresh processes each way (one sample is noise on a busy machine).
  const firstToken = async () => {
    const ms = [];
    for (let i = 0; i < 3; i++) {
      const [p] = await fleet(1, config(entra, scope()));
      ms.push((await p.send({ cmd: 'burst', n: 1 })).maxMs);
      await stop([p]);
    }
    return ms.sort((x, y) => x - y)[1];
  };
  const normal = await firstToken();

  // 4. Redis SIGKILLed while the 16 hold tokens.
  log('fleet: outage');
  await redis.stop();
  const outage = await all(cold, { cmd: 'loop', ms: 2_000, gapMs: 1 });
  const outageP99 = Math.max(...outage.map((a) => a.p99Ms));
  row('Redis SIGKILLed while tokens are held: failed getToken; p99 during the outage', `${failed(outage)} failed of ${outage.reduce((a, r) => a + r.calls, 0)}; ${outageP99.toFixed(2)} ms`, '0; ≤ 50 ms', failed(outage) === 0 && outageP99 <= 50);

  // 5. A process started cold while Redis is down.
  const down = await firstToken();
  row('a process started cold while Redis is down: first token (median of 3)', `${down.toFixed(1)} ms (Redis up: ${normal.toFixed(1)} ms)`, 'normal + ≤ 100 ms', down <= normal + 100);
  await stop(cold);

  // 6. Restart (empty) and FLUSHALL: cold fleets after each.
  log('fleet: restart / flushall');
  redis = await startRedis({ port: redis.port });
  const flushScope = scope();
  const a = await fleet(PROCESSES, config(entra, flushScope));
  await all(a, { cmd: 'burst', n: 5 });
  await stop(a);
  const { Redis: Client } = await import('../../packages/token-redis/node_modules/ioredis/built/index.js');
  const admin = new Client(redis.url);
  await admin.flushall();
  const b = await fleet(PROCESSES, config(entra, flushScope));
  const afterFlush = await all(b, { cmd: 'burst', n: 5 });
  await stop(b);
  row('Redis restarted / FLUSHALL: requests to recover (cold fleet after each)', `${requests(entra, flushScope)} for 1 key (${failed(afterFlush)} failed)`, '1 per key (2 here)', requests(entra, flushScope) === 2);

  // 8. Steady state over short-lived tokens (refresh_in 1 s).
  log('fleet: steady state');
  const steadyScope = scope();
  const s = await fleet(PROCESSES, config(short, steadyScope));
  await all(s, { cmd: 'burst', n: 1 });
  const before = requests(short, steadyScope);
  const steady = await all(s, { cmd: 'loop', ms: STEADY_SECONDS * 1000, gapMs: 5 });
  const steadyRequests = requests(short, steadyScope) - before;
  log(`fleet: steady requests at ${short.requests.filter((r) => r.form.scope === steadyScope).map((r) => r.receivedAt - short.requests[0].receivedAt).join(' ')} ms`);
  row(`steady state, ${STEADY_SECONDS} refresh intervals (refresh_in 1 s), ${PROCESSES} processes`, `${steadyRequests} requests (${failed(steady)} failed)`, `${STEADY_SECONDS} (+1)`, steadyRequests >= 1 && steadyRequests <= STEADY_SECONDS + 1 && failed(steady) === 0);
  await stop(s);

  // 7. 429 with Retry-After seen by one process.
  log('fleet: 429');
  const throttleScope = scope();
  const t = await fleet(PROCESSES, config(entra, throttleScope));
  entra.fail({ kind: 'status', status: 429, retryAfter: '30' });
  const throttled = await all(t, { cmd: 'burst', n: 5 });
  await all(t, { cmd: 'burst', n: 5 });
  const codes = new Set(throttled.flatMap((x) => x.codes));
  row(`429 with Retry-After seen by one of ${PROCESSES} processes → requests in the window`, `${requests(entra, throttleScope)} (others: ${[...codes].join(', ')})`, '1', requests(entra, throttleScope) === 1);
  await stop(t);

  // 9. What a Redis reader sees.
  const names = await admin.keys('*');
  const values = await Promise.all(names.map((k) => admin.get(k)));
  const jwtShaped = values.filter((v) => /eyJ[\w-]{8,}/.test(v ?? '')).length;
  row('Redis values scanned for token or JWT-shaped text', `${jwtShaped} of ${values.length} values`, 'none', jwtShaped === 0);
  admin.disconnect();

  // 10. The reference: MSAL Node with its distributed cache plugin on the same Redis (HTTPS: MSAL refuses http:).
  log('fleet: MSAL Node reference');
  const fx = makeFixtures(mkdtempSync(join(dir, 'msal-')));
  const tls = await startEntraServer({
    tenantId: TENANT,
    clients: [{ clientId: CLIENT, certificates: [readFileSync(fx.clientCert, 'utf8')] }],
    tls: { cert: readFileSync(fx.tlsCert), key: readFileSync(fx.tlsKey) },
  });
  try {
    const origin = tls.url;
    const metadata = {
      issuer: tls.issuer('v2'),
      token_endpoint: tls.tokenEndpoint('v2'),
      authorization_endpoint: `${origin}/${TENANT}/oauth2/v2.0/authorize`,
      jwks_uri: tls.jwksUri,
    };
    const endpoint = { origin, host: new URL(origin).host, tenantId: TENANT, clientId: CLIENT, metadata };
    const msalScope = scope();
    const child = fileURLToPath(new URL('./fleet-msal-child.mjs', import.meta.url));
    const args = JSON.stringify({ redisUrl: redis.url, endpoint, pemPath: fx.clientPem, scope: msalScope, callers: CONCURRENCY });
    const outputs = await Promise.all(
      Array.from({ length: PROCESSES }, () =>
        promisify(execFile)(process.execPath, [child, args], { env: { ...process.env, NODE_EXTRA_CA_CERTS: fx.caCert }, timeout: 120_000 }).then(
          ({ stdout }) => JSON.parse(stdout),
          (error) => ({ fulfilled: 0, rejected: CONCURRENCY, error: String(error.message).split('\n')[0] }),
        ),
      ),
    );
    const ok = outputs.reduce((a, o) => a + o.fulfilled, 0);
    const errors = [...new Set(outputs.map((o) => o.firstError ?? o.error).filter(Boolean))].join(', ');
    row(`same, MSAL Node 7.2.1 + its distributed cache plugin on the same Redis`, `${requests(tls, msalScope)} requests (${ok} of ${PROCESSES * CONCURRENCY} calls ok${errors ? `; ${errors}` : ''})`, 'report (~16–400)');
  } finally {
    await tls.close();
  }
} finally {
  await Promise.all([...live].map((w) => w.stop()));
  await redis.stop();
  await entra.close();
  await short.close();
  rmSync(dir, { recursive: true, force: true });
}

if (flags.json) console.log(JSON.stringify({ figure: 'fleet', rows }, null, 2));
else {
  const widths = ['figure', 'value', 'target', 'met'].map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  console.log(line(['figure', 'value', 'target', 'met']));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line([r.figure, r.value, r.target, r.met]));
}
process.exitCode = rows.some((r) => r.met === 'NO') ? 1 : 0;
