import { describe, expect, test } from 'vitest';
import { EXPIRY_MARGIN_MS, TokenRequestError, type TokenResponse } from '@x/token';
import { refreshAfterTimestamp as refreshAt, TokenCache, usableUntil } from '../src/cache.js';
import { EventSink } from '../src/events.js';
import { recordEvents } from './support.js';

const MIN = 60_000;

/** The refresh time of a token requested at `requestedAt`, expiring at `expiresOn`, with `refresh_in`. */
const refreshAfterTimestamp = (requestedAt: number, expiresOn: number, refreshIn?: number) =>
  refreshAt({ expiresIn: (expiresOn - requestedAt) / 1000, expiresOnTimestamp: expiresOn, refreshIn });

describe('the refresh rule', () => {
  test('one hour: at half the lifetime', () => {
    expect(refreshAfterTimestamp(0, 60 * MIN)).toBe(30 * MIN);
  });
  test('eight minutes: half the lifetime, not 5 minutes before expiry (which would come before half-life)', () => {
    expect(refreshAfterTimestamp(0, 8 * MIN)).toBe(4 * MIN);
  });
  test('refresh_in wins when sent, but never past the end of usability', () => {
    expect(refreshAfterTimestamp(0, 24 * 60 * MIN, 12 * 60 * 60)).toBe(12 * 60 * MIN);
    expect(refreshAfterTimestamp(0, 60 * MIN, 7200)).toBe(60 * MIN - EXPIRY_MARGIN_MS);
  });
  test('a token shorter than 5 minutes is due at half its lifetime, not on every call', () => {
    expect(refreshAfterTimestamp(1000, 1000 + 2 * MIN)).toBe(1000 + MIN);
  });
  test('a token shorter than 2 minutes: margin a quarter of its lifetime, refresh at half', () => {
    expect(refreshAfterTimestamp(0, 40_000)).toBe(20_000);
    expect(usableUntil({ expiresIn: 40, expiresOnTimestamp: 40_000 })).toBe(30_000);
    expect(usableUntil({ expiresIn: 12, expiresOnTimestamp: 12_000 })).toBe(9_000);
    expect(usableUntil({ expiresIn: 3600, expiresOnTimestamp: 3_600_000 })).toBe(3_600_000 - EXPIRY_MARGIN_MS);
  });
  test('refresh_in past the end of usability of a short token: at the end of usability', () => {
    expect(refreshAfterTimestamp(0, 12_000, 60)).toBe(9_000);
  });
});

/** A cache on a hand-driven clock, with a token source that counts calls. */
function setup(lifetimeMs = 60 * MIN) {
  let clock = 1_000_000;
  const { events, logger } = recordEvents();
  const cache = new TokenCache({ now: () => clock, refreshRetryMs: 30_000, events: new EventSink('app', logger) });
  let calls = 0;
  let failing = false;
  const release: Array<() => void> = [];
  let gated = false;
  const fetch = async (): Promise<TokenResponse> => {
    calls++;
    const requestedAt = clock;
    if (gated) await new Promise<void>((r) => release.push(r));
    if (failing) throw new TokenRequestError('ERR_NETWORK', 'down', { retryable: true });
    return Object.freeze({
      accessToken: `token-${calls}`,
      tokenType: 'Bearer' as const,
      expiresIn: lifetimeMs / 1000,
      expiresOnTimestamp: requestedAt + lifetimeMs,
    });
  };
  return {
    cache,
    events,
    fetch,
    get calls() {
      return calls;
    },
    advance: (ms: number) => (clock += ms),
    fail: (on: boolean) => (failing = on),
    gate: (on: boolean) => (gated = on),
    open: () => release.splice(0).forEach((r) => r()),
  };
}

describe('TokenCache', () => {
  test('a hit returns the same pre-made promise and the same frozen token', async () => {
    const s = setup();
    const entry = await s.cache.lookup('k', s.fetch, false);
    const first = s.cache.hit('k');
    expect(first).toBeDefined();
    expect(s.cache.hit('k')).toBe(first);
    expect(await first).toBe(entry.token);
    expect(Object.isFrozen(entry.token)).toBe(true);
    expect(s.cache.hit('other')).toBeUndefined();
    expect(s.calls).toBe(1);
  });

  test('single flight: concurrent cold lookups share one request', async () => {
    const s = setup();
    s.gate(true);
    const waiting = Array.from({ length: 50 }, () => s.cache.lookup('k', s.fetch, false));
    await Promise.resolve();
    s.open();
    const entries = await Promise.all(waiting);
    expect(s.calls).toBe(1);
    expect(new Set(entries.map((e) => e.token)).size).toBe(1);
  });

  test('due: the cached token is served while one background request refreshes it', async () => {
    const s = setup();
    const first = (await s.cache.lookup('k', s.fetch, false)).token;
    s.advance(30 * MIN); // refresh time reached
    expect(s.cache.hit('k')).toBeUndefined();
    s.gate(true);
    const served = await Promise.all(Array.from({ length: 20 }, () => s.cache.lookup('k', s.fetch, false)));
    expect(served.every((e) => e.token === first)).toBe(true);
    expect(s.calls).toBe(2);
    s.open();
    await new Promise((r) => setImmediate(r));
    const next = await s.cache.hit('k');
    expect(next).not.toBe(first);
    expect(next!.token).toBe('token-2');
    expect(s.events.filter((e) => e.type === 'refresh')).toEqual([{ type: 'refresh', clientId: 'app', scope: 'k', reason: 'due' }]);
  });

  test('a failed refresh keeps serving the cached token, retried once per interval, never past expiry', async () => {
    const s = setup();
    const first = (await s.cache.lookup('k', s.fetch, false)).token;
    s.fail(true);
    s.advance(31 * MIN);
    expect((await s.cache.lookup('k', s.fetch, false)).token).toBe(first);
    await new Promise((r) => setImmediate(r));
    expect(s.calls).toBe(2);
    expect(s.events.find((e) => e.type === 'refresh-failed')).toMatchObject({ code: 'ERR_NETWORK', scope: 'k' });

    // Within the retry interval: hits, no request.
    for (let i = 0; i < 10; i++) expect(await s.cache.hit('k')).toBe(first);
    expect(s.calls).toBe(2);

    // After it: one more background try.
    s.advance(30_000);
    expect((await s.cache.lookup('k', s.fetch, false)).token).toBe(first);
    await new Promise((r) => setImmediate(r));
    expect(s.calls).toBe(3);

    // Past the usable end the token is never returned: callers wait for (and share) a request.
    s.advance(29 * MIN - EXPIRY_MARGIN_MS);
    expect(s.cache.hit('k')).toBeUndefined();
    await expect(s.cache.lookup('k', s.fetch, false)).rejects.toMatchObject({ code: 'ERR_NETWORK' });
    s.fail(false);
    const fresh = await s.cache.lookup('k', s.fetch, false);
    expect(fresh.token).not.toBe(first);
  });

  test('forceRefresh skips a fresh token and joins a request in flight', async () => {
    const s = setup();
    await s.cache.lookup('k', s.fetch, false);
    s.gate(true);
    const a = s.cache.lookup('k', s.fetch, true);
    const b = s.cache.lookup('k', s.fetch, true);
    s.open();
    expect(await a).toBe(await b);
    expect(s.calls).toBe(2);
    expect(s.events.filter((e) => e.type === 'refresh')).toEqual([{ type: 'refresh', clientId: 'app', scope: 'k', reason: 'forced' }]);
  });

  test('a 20 s token is served from the cache (margin 5 s), refreshed at 10 s, never served past 15 s', async () => {
    const s = setup(20_000);
    const entry = await s.cache.lookup('k', s.fetch, false);
    expect(entry.token.token).toBe('token-1');
    expect(await s.cache.hit('k')).toBe(entry.token);
    s.advance(10_000);
    expect(s.cache.hit('k')).toBeUndefined();
    s.fail(true);
    expect((await s.cache.lookup('k', s.fetch, false)).token).toBe(entry.token);
    await new Promise((r) => setImmediate(r));
    s.advance(5_000);
    await expect(s.cache.lookup('k', s.fetch, false)).rejects.toMatchObject({ code: 'ERR_NETWORK' });
    expect(s.calls).toBe(3);
  });
});
