// Memory of one credential holding 1,000 cached tokens (one per scope), in a
// fresh process run with --expose-gc. A throwaway credential first fetches a
// few tokens (as many at once as below), so what belongs to the process
// rather than to a credential (lazily compiled modules, the HTTP connection
// pool, TLS sessions) is in the baseline; then gc, baseline, 1 credential +
// 1,000 tokens (with readings at each quarter), gc, measure.
import { msalApplication, msalGetToken, ourCredential } from '../lib/clients.mjs';
import { report } from '../lib/child.mjs';

report(async ({ side, endpoint, pemPath, tokens, concurrency }) => {
  if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
  const lib = await import(side === 'ours' ? '@x/token' : '@azure/msal-node');
  const make = () => {
    if (side === 'ours') {
      const credential = ourCredential(lib, endpoint, pemPath);
      return { holder: credential, get: async (scope) => (await credential.getToken(scope)).token };
    }
    const app = msalApplication(lib, endpoint, pemPath);
    return { holder: app, get: async (scope) => (await msalGetToken(app, scope)).accessToken };
  };
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      globalThis.gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    return process.memoryUsage();
  };

  // Warm-up with as many requests in flight as below: the connection pool is the process's.
  const warmup = make();
  await Promise.all(Array.from({ length: concurrency }, (_, i) => warmup.get(`api://bench-warmup-${i}/.default`)));
  const before = await settle();

  const credential = make();
  let next = 0;
  let tokenChars = 0;
  const fetchUpTo = async (count) => {
    const worker = async () => {
      while (next < count) {
        const token = await credential.get(`api://bench-${next++}/.default`);
        tokenChars += token.length;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  };
  // Readings at each quarter too: the least-squares slope over them is the
  // marginal cost of one more cached token, without the fixed part (the
  // credential, code compiled on first use, the cache map's first growth).
  const marks = [];
  for (const count of [tokens / 4, tokens / 2, (3 * tokens) / 4, tokens]) {
    await fetchUpTo(count);
    marks.push({ tokens: count, heapUsed: (await settle()).heapUsed - before.heapUsed });
  }
  const after = await settle();
  // Still cached: one more call per scope must not reach the network (checked by the parent's counter).
  for (let i = 0; i < tokens; i += 97) await credential.get(`api://bench-${i}/.default`);

  const delta = (key) => after[key] - before[key];
  return {
    side,
    tokens,
    heapDeltaBytes: delta('heapUsed'),
    externalDeltaBytes: delta('external'),
    rssDeltaBytes: delta('rss'),
    bytesPerToken: delta('heapUsed') / tokens,
    marginalBytesPerToken: slope(marks.map((m) => m.tokens), marks.map((m) => m.heapUsed)),
    heapAtQuarters: marks,
    averageTokenChars: tokenChars / tokens,
    holderAlive: credential.holder !== undefined,
  };
});

/** Least-squares slope of y over x. */
function slope(x, y) {
  const mx = x.reduce((a, b) => a + b, 0) / x.length;
  const my = y.reduce((a, b) => a + b, 0) / y.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) {
    num += (x[i] - mx) * (y[i] - my);
    den += (x[i] - mx) ** 2;
  }
  return num / den;
}
