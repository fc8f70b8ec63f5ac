/**
 * Soak with simulated time: a daemon asks for a token every second for 48
 * simulated hours (172,800 calls) against a token endpoint that fails 10% of
 * requests at random (503, 429 with Retry-After in seconds or as an HTTP
 * date, network errors).
 *
 * Time: the credential's `now` clock is the simulated clock, advanced one
 * second per call. A refresh takes no simulated time (the loop waits for it
 * in real time before the next second). Vitest's fake timers are not used:
 * the backoff sleeps of retry.ts come from `node:timers/promises`, which
 * they do not patch; the backoff is kept at a few real milliseconds instead,
 * and every `Retry-After` of a second or more exceeds the (real) 500 ms retry
 * budget, so it is carried out by the cache's throttle on the simulated clock.
 *
 * The token endpoint is a stand-in for the server, not for our code: a
 * `fetch` that parses the real form body, verifies each client assertion with
 * jose against the certificate (signature, iss, sub, aud, exp, single-use
 * jti), and answers with real `Response` objects, chosen by a seeded PRNG.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { importX509, jwtVerify, type CryptoKey } from 'jose';
import { ClientCertificateCredential, EXPIRY_MARGIN_MS, type TokenEvent } from '@x/token';
import { certificateDir, type CertificateDir, type TestCertificate } from './support.js';

const CLIENT = 'a1b2c3d4-0000-4000-8000-00000000504c';
const ENDPOINT = 'https://login.soak.test/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token';
const SCOPE = 'https://graph.microsoft.com/.default';
const HOURS = 48;
const CALLS = HOURS * 3600;
const LIFETIME_S = 3600;
const REFRESH_RETRY_MS = 30_000;
/** The refresh rule for a 1 h token: min(half the lifetime, 5 min before expiry) = 30 min. */
const REFRESH_INTERVAL_MS = Math.min((LIFETIME_S * 1000) / 2, LIFETIME_S * 1000 - 300_000);

let dir: CertificateDir;
let cert: TestCertificate;
let publicKey: CryptoKey;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  dir = await certificateDir();
  cert = await dir.make('soak');
  publicKey = await importX509(cert.certPem, 'PS256');
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await dir?.remove();
});

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `global.gc` when exposed, else the same function obtained at run time. */
function collector(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** The stand-in token endpoint. */
function tokenEndpoint(clock: () => number, failureRate: number, seed: number) {
  const random = prng(seed);
  const jtis = new Set<string>();
  const stats = { requests: 0, issued: 0, injected: { '503': 0, '429 seconds': 0, '429 date': 0, network: 0 }, rejected: 0 };
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), {
      status,
      headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', date: new Date(clock()).toUTCString(), ...headers },
    });

  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    stats.requests++;
    const url = String(input);
    const form = new URLSearchParams(String(init?.body));
    // Verify what a real server verifies; a refusal here is a bug of the client and fails the soak.
    try {
      if (init?.method !== 'POST' || url !== ENDPOINT) throw new Error(`unexpected ${init?.method} ${url}`);
      if (form.get('grant_type') !== 'client_credentials' || form.get('client_id') !== CLIENT || form.get('scope') !== SCOPE) {
        throw new Error(`unexpected form ${[...form.keys()].join(',')}`);
      }
      if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') throw new Error('assertion type');
      const { payload } = await jwtVerify(form.get('client_assertion') ?? '', publicKey, {
        algorithms: ['PS256'],
        audience: ENDPOINT,
        issuer: CLIENT,
        subject: CLIENT,
        requiredClaims: ['jti', 'exp', 'iat'],
      });
      if (jtis.has(payload.jti!)) throw new Error('jti replayed');
      jtis.add(payload.jti!);
    } catch (error) {
      stats.rejected++;
      return json(401, { error: 'invalid_client', error_description: `AADSTS700027: ${(error as Error).message}` });
    }

    if (random() < failureRate) {
      const kind = random();
      if (kind < 1 / 3) {
        stats.injected['503']++;
        return json(503, { error: 'temporarily_unavailable', error_description: 'AADSTS90033: A transient error has occurred.', error_codes: [90033] });
      }
      if (kind < 2 / 3) {
        const seconds = Math.floor(random() * 120); // 0 … 119 s
        const asDate = random() < 0.5;
        stats.injected[asDate ? '429 date' : '429 seconds']++;
        const retryAfter = asDate ? new Date(Math.floor(clock() / 1000) * 1000 + seconds * 1000).toUTCString() : String(seconds);
        return json(429, { error: 'temporarily_unavailable', error_description: 'AADSTS90055: throttled.', error_codes: [90055] }, { 'retry-after': retryAfter });
      }
      stats.injected.network++;
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) });
    }
    stats.issued++;
    const token = `at-${stats.issued}-${Math.floor(random() * 2 ** 32).toString(16)}`;
    return json(200, { token_type: 'Bearer', expires_in: LIFETIME_S, ext_expires_in: LIFETIME_S, access_token: token });
  };
  return { fetch, stats };
}

/** The soak as specified (10%), and a harsher profile (50%) that leans on the throttle and refreshRetryMs paths. */
test.each([
  { failureRate: 0.1, seed: 0x5eed_2026 },
  { failureRate: 0.5, seed: 0x0bad_5eed },
])(`soak: a call every second for ${HOURS} simulated hours, $failureRate of requests failing`, async ({ failureRate, seed }) => {
  const gc = collector();
  const T0 = Date.UTC(2026, 0, 1);
  let clock = T0;
  const server = tokenEndpoint(() => clock, failureRate, seed);

  // Events: counted, and the refresh timeline kept (a few hundred entries).
  const counts: Record<string, number> = {};
  const timeline: Array<{ type: 'token' | 'refresh' | 'refresh-failed'; at: number; retryAt?: number; code?: string }> = [];
  let settle: (() => void) | undefined;
  const logger = (e: TokenEvent) => {
    counts[e.type] = (counts[e.type] ?? 0) + 1;
    if (e.type === 'token') timeline.push({ type: 'token', at: clock });
    else if (e.type === 'refresh') timeline.push({ type: 'refresh', at: clock });
    else if (e.type === 'refresh-failed') timeline.push({ type: 'refresh-failed', at: clock, retryAt: e.retryAt, code: e.code });
    if (e.type === 'token' || e.type === 'refresh-failed') settle?.();
  };
  const credential = new ClientCertificateCredential('unused', CLIENT, cert.bundlePath, {
    tokenEndpoint: ENDPOINT,
    fetch: server.fetch,
    now: () => clock,
    refreshRetryMs: REFRESH_RETRY_MS,
    retry: { maxAttempts: 4, initialDelayMs: 2, maxDelayMs: 4, maxElapsedMs: 500 },
    logger,
  });

  let expired = 0;
  let empty = 0;
  let errors = 0;
  const distinct = new Set<string>();
  let heapHour1 = 0;
  let heapHour24 = 0;
  const started = performance.now();

  for (let s = 1; s <= CALLS; s++) {
    clock = T0 + s * 1000;
    const refreshesBefore = counts['refresh'] ?? 0;
    const done = new Promise<void>((resolve) => (settle = resolve));
    try {
      const t = await credential.getToken(SCOPE);
      if (typeof t.token !== 'string' || t.token === '') empty++;
      if (!(clock < t.expiresOnTimestamp - EXPIRY_MARGIN_MS)) expired++;
      distinct.add(t.token);
    } catch {
      errors++;
    }
    // A background refresh started: let it finish (in real time) before the next second.
    if ((counts['refresh'] ?? 0) > refreshesBefore) {
      await done;
      await new Promise((r) => setImmediate(r)); // the cache stores the answer after the 'token' event
    }
    if (s === 3600 || s === 24 * 3600) {
      gc();
      const used = process.memoryUsage().heapUsed;
      if (s === 3600) heapHour1 = used;
      else heapHour24 = used;
    }
  }
  gc();
  const heapEnd = process.memoryUsage().heapUsed;
  const wallMs = performance.now() - started;

  // The refresh rule, cycle by cycle: each refresh starts exactly at the previous token's refresh time
  // (half its lifetime) or, after a failed refresh, at the first call on or after the announced retryAt,
  // which is refreshRetryMs after the failure (or the server's Retry-After, when later).
  const tokens = timeline.filter((e) => e.type === 'token');
  let extraWaitMs = 0;
  for (let i = 1; i < timeline.length; i++) {
    const e = timeline[i]!;
    if (e.type !== 'refresh') continue;
    const previous = timeline[i - 1]!;
    if (previous.type === 'token') expect(e.at - previous.at).toBe(REFRESH_INTERVAL_MS);
    else {
      expect(previous.type).toBe('refresh-failed');
      expect(previous.retryAt! - previous.at).toBeGreaterThanOrEqual(REFRESH_RETRY_MS);
      expect(e.at).toBe(Math.ceil(previous.retryAt! / 1000) * 1000);
      extraWaitMs += e.at - previous.at;
    }
  }
  const refreshes = tokens.length - 1;
  const failedRefreshes = timeline.filter((e) => e.type === 'refresh-failed').length;
  // Without failures: ⌊(48 h − 1 s) / 30 min⌋ = 95 refreshes after the first token; each failed refresh delays the rest.
  const maxRefreshes = Math.floor((CALLS * 1000 - 1000) / REFRESH_INTERVAL_MS);
  const minRefreshes = Math.floor((CALLS * 1000 - 1000 - extraWaitMs) / REFRESH_INTERVAL_MS);
  const injected = Object.values(server.stats.injected).reduce((a, b) => a + b, 0);

  console.log(
    [
      `soak (${HOURS} simulated hours, ${failureRate * 100}% failing, seed ${seed.toString(16)}, ${(wallMs / 1000).toFixed(1)} s wall):`,
      `  calls ${CALLS}, errors returned ${errors}, expired tokens returned ${expired}, empty ${empty}, distinct tokens ${distinct.size}`,
      `  token requests ${server.stats.requests} (issued ${server.stats.issued}, assertions refused ${server.stats.rejected})`,
      `  refreshes ${refreshes} (rule: ${minRefreshes}…${maxRefreshes}; ${failedRefreshes} failed refreshes delayed the schedule by ${extraWaitMs / 1000} s), retries ${counts['retry'] ?? 0}`,
      `  failures injected ${injected} = ${JSON.stringify(server.stats.injected)} (${((100 * injected) / server.stats.requests).toFixed(1)}% of requests)`,
      `  heap after gc: hour 1 ${(heapHour1 / 2 ** 20).toFixed(1)} MiB, hour 24 ${(heapHour24 / 2 ** 20).toFixed(1)} MiB, hour 48 ${(heapEnd / 2 ** 20).toFixed(1)} MiB`,
    ].join('\n'),
  );

  expect(expired).toBe(0);
  expect(empty).toBe(0);
  expect(errors).toBe(0); // a 29.5 min refresh window absorbs every injected failure
  expect(server.stats.rejected).toBe(0);
  expect(server.stats.issued).toBe(tokens.length);
  expect(distinct.size).toBe(tokens.length);
  expect(refreshes).toBeGreaterThanOrEqual(minRefreshes);
  expect(refreshes).toBeLessThanOrEqual(maxRefreshes);
  expect(refreshes).toBeGreaterThanOrEqual(failureRate <= 0.1 ? 90 : 80); // ≈ 48 h / 30 min
  expect(injected).toBeGreaterThan(0);
  expect(failedRefreshes).toBeGreaterThan(0); // the refreshRetryMs path was taken
  expect(counts['cache-hit']! + (counts['refresh'] ?? 0) + 1).toBeGreaterThanOrEqual(CALLS - 1);
  expect(Math.abs(heapEnd - heapHour1)).toBeLessThan(4 * 2 ** 20);
  expect(unhandled).toEqual([]);
  expect(wallMs).toBeLessThan(20_000);
});
