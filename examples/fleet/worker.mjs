// One process of the fleet: a credential whose level-2 cache is Redis.
// Started by fleet.mjs (and the tests and the fleet benchmark) with one JSON
// argument; reads commands from stdin, one JSON object a line, and answers
// each with one JSON line on stdout. Prints no token: only counts, timings,
// event types and a short hash of each token (to count distinct tokens).
//
//   {"cmd":"burst","n":25}            n concurrent getToken calls
//   {"cmd":"loop","ms":2000,"gapMs":5} getToken in a loop for ms
//   {"cmd":"hits","n":20000}          latency of level-1 hits and of level-2 (Redis) hits, µs
//   {"cmd":"exit"}
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { ClientCertificateCredential } from '@x/token';
import { createRedisTokenStore } from '@x/token-redis';

const config = JSON.parse(process.argv[2]);
const events = {};
const count = (type) => (events[type] = (events[type] ?? 0) + 1);
let lastRequest;
const tokenStore = createRedisTokenStore({
  url: config.redisUrl,
  encryptionKey: config.encryptionKeyHex ? Buffer.from(config.encryptionKeyHex, 'hex') : undefined,
  ...config.store,
});
const credential = new ClientCertificateCredential(config.tenantId, config.clientId, config.certificate, {
  authorityHost: config.authorityHost,
  retry: config.retry,
  refreshRetryMs: config.refreshRetryMs,
  // The store, seen through a wrapper that keeps the last request the credential made (for the L2 figure).
  tokenStore: { lookup: (request) => tokenStore.lookup((lastRequest = request)) },
  logger: (e) => {
    count(e.type);
    if (e.type.startsWith('store-') && e.code !== undefined) count(`${e.type}:${e.code}`);
  },
});
const getToken = async () => (await credential.getToken(config.scope)).token;

function tokenHash(token) {
  return createHash('sha256').update(token).digest('hex').slice(0, 12);
}

async function timed(call) {
  const t0 = performance.now();
  try {
    const token = await call();
    return { ok: true, ms: performance.now() - t0, hash: tokenHash(token) };
  } catch (error) {
    return { ok: false, ms: performance.now() - t0, code: error?.code ?? 'ERR_UNKNOWN' };
  }
}

function summary(results) {
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  const at = (q) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0;
  return {
    calls: results.length,
    ok: results.filter((r) => r.ok).length,
    failed: results.filter((r) => !r.ok).length,
    codes: [...new Set(results.filter((r) => !r.ok).map((r) => r.code))],
    hashes: [...new Set(results.filter((r) => r.ok).map((r) => r.hash))],
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: ms.at(-1) ?? 0,
    events: { ...events },
  };
}

const commands = {
  async ping() {
    return { pong: true };
  },
  async burst({ n }) {
    return summary(await Promise.all(Array.from({ length: n }, () => timed(getToken))));
  },
  async loop({ ms, gapMs = 0 }) {
    const results = [];
    const end = Date.now() + ms;
    while (Date.now() < end) {
      results.push(await timed(getToken));
      await new Promise((r) => setTimeout(r, gapMs));
    }
    return summary(results);
  },
  async hits({ n }) {
    await getToken();
    // Level 1 is a map look-up plus an await: timed in batches of 100 calls (a timer pair
    // around each call would cost more than the call); level 2 is a Redis round trip, timed per call.
    const batch = 100;
    const micros = async (call, size) => {
      const us = [];
      for (let i = 0; i < n / size; i++) {
        const t0 = performance.now();
        for (let j = 0; j < size; j++) await call();
        us.push(((performance.now() - t0) * 1000) / size);
      }
      us.sort((a, b) => a - b);
      return { p50Us: us[Math.floor(us.length / 2)], p99Us: us[Math.floor(us.length * 0.99)] };
    };
    // Level 1 as a daemon without a logger has it (a logger adds a cache-hit event to every hit):
    // a second credential of this process on the same store, warmed by one level-2 hit.
    const quiet = new ClientCertificateCredential(config.tenantId, config.clientId, config.certificate, {
      authorityHost: config.authorityHost,
      retry: config.retry,
      tokenStore,
    });
    await quiet.getToken(config.scope);
    return {
      l1: await micros(() => quiet.getToken(config.scope), batch),
      l2: await micros(() => tokenStore.lookup({ ...lastRequest, isFresh: () => true, forceRefresh: false }), 1),
      events: { ...events },
    };
  },
  async exit() {
    await tokenStore.close();
    setImmediate(() => process.exit(0));
    return { bye: true };
  },
};

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line);
  const answer = await commands[command.cmd](command);
  process.stdout.write(`${JSON.stringify({ id: command.id, ...answer })}\n`);
}
