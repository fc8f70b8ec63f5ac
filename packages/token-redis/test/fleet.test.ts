/**
 * Fleet behaviour with real parts only: a redis-server of our own, real
 * worker processes (examples/fleet/worker.mjs, built packages) with a real
 * certificate, and the devserver's Entra-shaped token endpoint counting the
 * requests. Every bound is a request count; times only bound with wide margins.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { JWT_SHAPED, scopeFor, startRedis, startWorkers, world, type Redis, type Worker, type World } from './support.js';

let w: World;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  w = await world();
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  await w?.close();
});

async function redis(options?: { password?: string }): Promise<Redis> {
  const server: Redis = await startRedis(options);
  cleanups.push(() => server.stop());
  return server;
}
async function fleet(n: number, config: Record<string, unknown>): Promise<Worker[]> {
  const workers: Worker[] = await startWorkers(n, config);
  cleanups.push(() => Promise.all(workers.map((x) => x.stop())));
  return workers;
}
const sum = (answers: { failed: number }[]) => answers.reduce((a, b) => a + b.failed, 0);

describe('a fleet on one Redis', () => {
  test('8 processes × 25 concurrent cold getToken → 1 token request, one token; no JWT-shaped text in Redis', async () => {
    const server = await redis();
    const scope = scopeFor('cold');
    const workers = await fleet(8, w.config(server.url, scope));
    const answers = await Promise.all(workers.map((x) => x.send({ cmd: 'burst', n: 25 })));
    expect(sum(answers)).toBe(0);
    expect(w.requests(scope), JSON.stringify(answers.map((r) => r.events))).toBe(1);
    expect(new Set(answers.flatMap((a) => a.hashes)).size).toBe(1);

    const { Redis: Client } = await import('ioredis');
    const client = new Client(server.url);
    try {
      const names = await client.keys('*');
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) {
        expect(name).not.toContain(scope.split('/')[2]);
        expect(name).not.toContain('fleet-client');
        const value = (await client.get(name)) ?? '';
        expect(value).not.toMatch(JWT_SHAPED);
        for (const { token } of w.entra.issued) expect(value).not.toContain(token.split('.')[1]!.slice(0, 16));
      }
    } finally {
      client.disconnect();
    }
  });

  test('Redis SIGKILLed while tokens are held: 0 failed getToken; a process started cold while it is down gets a token', async () => {
    const server = await redis();
    const scope = scopeFor('kill');
    const workers = await fleet(3, w.config(server.url, scope));
    await Promise.all(workers.map((x) => x.send({ cmd: 'burst', n: 5 })));
    expect(w.requests(scope)).toBe(1);
    await server.stop();
    const during = await Promise.all(workers.map((x) => x.send({ cmd: 'loop', ms: 500, gapMs: 2 })));
    expect(sum(during)).toBe(0);
    expect(w.requests(scope)).toBe(1); // held tokens served from level 1

    const [cold] = await fleet(1, w.config(server.url, scope));
    const first = await cold!.send({ cmd: 'burst', n: 10 });
    expect(first.failed).toBe(0);
    expect(first.events['store-fallback'] ?? 0).toBeGreaterThan(0);
    expect(w.requests(scope)).toBe(2); // its own, through the fallback
    expect(first.maxMs).toBeLessThan(10_000);
  });

  test('FLUSHALL / a restarted, empty Redis: 1 request per key to recover', async () => {
    let server = await redis();
    const scope = scopeFor('flush');
    const config = w.config(server.url, scope);
    const a = await fleet(4, config);
    await Promise.all(a.map((x) => x.send({ cmd: 'burst', n: 5 })));
    expect(w.requests(scope)).toBe(1);
    const { Redis: Client } = await import('ioredis');
    const client = new Client(server.url);
    await client.flushall();
    client.disconnect();
    const b = await fleet(4, config); // cold processes: level 1 empty, Redis empty
    const recovered = await Promise.all(b.map((x) => x.send({ cmd: 'burst', n: 5 })));
    const afterFlush = w.requests(scope);
    expect(afterFlush, JSON.stringify(recovered.map((r) => r.events))).toBe(2);

    server = await server.restart();
    cleanups.push(() => server.stop());
    const c = await fleet(4, config);
    const answers = await Promise.all(c.map((x) => x.send({ cmd: 'burst', n: 5 })));
    expect(sum(answers)).toBe(0);
    expect(w.requests(scope) - afterFlush, JSON.stringify(answers.map((r) => r.events))).toBe(1);
  });

  test('429 with Retry-After seen by one process → no other request in the window; others fail fast with ERR_THROTTLED', async () => {
    const server = await redis();
    const scope = scopeFor('throttle');
    const workers = await fleet(4, w.config(server.url, scope));
    w.entra.fail({ kind: 'status', status: 429, retryAfter: '60' });
    const answers = await Promise.all(workers.map((x) => x.send({ cmd: 'burst', n: 5 })));
    expect(w.requests(scope)).toBe(1);
    expect(answers.every((a) => a.ok === 0)).toBe(true);
    const codes = new Set(answers.flatMap((a) => a.codes));
    expect(codes.has('ERR_THROTTLED')).toBe(true);
    const again = await Promise.all(workers.map((x) => x.send({ cmd: 'burst', n: 5 })));
    expect(again.flatMap((a) => a.codes)).toContain('ERR_THROTTLED');
    expect(w.requests(scope)).toBe(1);
  });

  test('the lock holder killed mid-fetch: the others take over after the lock TTL (1 more request)', async () => {
    const server = await redis();
    const scope = scopeFor('holder');
    // The new holder renews its lock every second: only a stall of 3 s (not a busy machine) could lose it.
    const config = w.config(server.url, scope, { store: { commandTimeoutMs: 5_000, connectTimeoutMs: 10_000, retryAfterMs: 1_000, lockTtlMs: 3_000 } });
    const [holder] = await fleet(1, config);
    const others = await fleet(3, config);
    w.entra.fail({ kind: 'slow', delayMs: 30_000 });
    void holder!.send({ cmd: 'burst', n: 1 }).catch(() => {});
    const deadline = Date.now() + 20_000;
    while (w.requests(scope) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    holder!.kill('SIGKILL');
    const answers = await Promise.all(others.map((x) => x.send({ cmd: 'burst', n: 5 })));
    expect(sum(answers)).toBe(0);
    expect(w.requests(scope), JSON.stringify(answers.map((r) => r.events))).toBe(2);
    expect(new Set(answers.flatMap((a) => a.hashes)).size).toBe(1);
  });

  test('Redis paused (SIGSTOP): getToken falls back to its own request, nothing fails', async () => {
    const server = await redis();
    const scope = scopeFor('paused');
    const [worker] = await fleet(1, w.config(server.url, scope, { store: { commandTimeoutMs: 300, retryAfterMs: 60_000 } }));
    await worker!.send({ cmd: 'ping' });
    server.signal('SIGSTOP');
    try {
      const answer = await worker!.send({ cmd: 'burst', n: 10 });
      expect(answer.failed).toBe(0);
      expect(answer.events['store-error']).toBeGreaterThan(0);
      expect(w.requests(scope)).toBe(1);
    } finally {
      server.signal('SIGCONT');
    }
  });

  test('wrong password and rediss:// to a plain server: refused cleanly, tokens still served, password never shown', async () => {
    const server = await redis({ password: 'right-password-1234' });
    for (const url of [`redis://:wrong-password-5678@127.0.0.1:${server.port}`, `rediss://:wrong-password-5678@127.0.0.1:${server.port}`]) {
      const scope = scopeFor('refused');
      const [worker] = await fleet(1, w.config(url, scope));
      const answer = await worker!.send({ cmd: 'burst', n: 5 });
      expect(answer.failed).toBe(0);
      expect(answer.events['store-fallback']).toBeGreaterThan(0);
      expect(w.requests(scope)).toBe(1);
      expect(worker!.stderr()).not.toContain('wrong-password-5678');
    }
  });
});

describe('steady state', () => {
  test('4 processes over several short token lifetimes: one request per refresh, never one per process', async () => {
    const short = await world({ tokenLifetimeSeconds: 32, refreshInSeconds: 1 });
    cleanups.push(() => short.close());
    const server = await redis();
    const scope = scopeFor('steady');
    const workers = await fleet(4, short.config(server.url, scope));
    const answers = await Promise.all(workers.map((x) => x.send({ cmd: 'loop', ms: 5_000, gapMs: 20 })));
    expect(sum(answers)).toBe(0);
    const requests = short.requests(scope);
    // refresh_in 1 s over 5 s: about 5 refreshes for the fleet; per-process refreshing would be ~20.
    expect(requests).toBeGreaterThanOrEqual(2);
    expect(requests).toBeLessThanOrEqual(8);
  });
});
