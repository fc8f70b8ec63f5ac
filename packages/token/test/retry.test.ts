import { describe, expect, test } from 'vitest';
import { TokenRequestError } from '@x/token';
import { backoffDelay, DEFAULT_RETRY_POLICY, isRetryableStatus, parseRetryAfter } from '../src/retry.js';
import { withRetries } from '../src/retry.js';

describe('Retry-After (RFC 9110 §10.2.3)', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  test('delay-seconds', () => {
    expect(parseRetryAfter('2', null, now)).toBe(2000);
    expect(parseRetryAfter(' 0 ', null, now)).toBe(0);
  });

  test('an HTTP date, against the response Date header when there is one', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', null, now)).toBe(5000);
    // The server's clock is 1 h behind ours: only the server-relative difference counts.
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:03 GMT', 'Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(3000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', null, now)).toBe(0);
  });

  test('absent or unparseable', () => {
    expect(parseRetryAfter(null, null, now)).toBeUndefined();
    expect(parseRetryAfter('soon', null, now)).toBeUndefined();
    expect(parseRetryAfter('-1', null, now)).toBeUndefined();
  });
});

test('retryable statuses: 408, 429, 500, 502, 503, 504 only', () => {
  const all = Array.from({ length: 500 }, (_, i) => i + 100).filter(isRetryableStatus);
  expect(all).toEqual([408, 429, 500, 502, 503, 504]);
});

test('backoff: full jitter under an exponential cap', () => {
  const policy = { ...DEFAULT_RETRY_POLICY, initialDelayMs: 100, maxDelayMs: 1000 };
  expect(backoffDelay(1, policy, () => 0.999)).toBe(99);
  expect(backoffDelay(3, policy, () => 0.999)).toBe(399);
  expect(backoffDelay(10, policy, () => 0.999)).toBe(999);
  expect(backoffDelay(2, policy, () => 0)).toBe(0);
});

describe('withRetries', () => {
  const policy = { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 10, maxElapsedMs: 2000 };
  const retryable = (extra: object = {}) => new TokenRequestError('ERR_NETWORK', 'down', { retryable: true, ...extra });

  test('stops after maxAttempts and reports the count', async () => {
    let calls = 0;
    const notices: number[] = [];
    const error = await withRetries(
      async () => {
        calls++;
        throw retryable();
      },
      policy,
      (n) => notices.push(n.attempt),
    ).catch((e: TokenRequestError) => e);
    expect(calls).toBe(3);
    expect(notices).toEqual([1, 2]);
    expect(error).toMatchObject({ code: 'ERR_NETWORK', attempts: 3 });
  });

  test('a final error is thrown at once', async () => {
    let calls = 0;
    const error = await withRetries(async () => {
      calls++;
      throw new TokenRequestError('ERR_OAUTH_ERROR', 'invalid_client', { status: 401 });
    }, policy).catch((e: TokenRequestError) => e);
    expect(calls).toBe(1);
    expect(error.attempts).toBe(1);
  });

  test('a Retry-After beyond the time budget fails now instead of waiting', async () => {
    let calls = 0;
    const started = performance.now();
    const error = await withRetries(async () => {
      calls++;
      throw retryable({ retryAfterMs: 60_000 });
    }, policy).catch((e: TokenRequestError) => e);
    expect(calls).toBe(1);
    expect(error.retryAfterMs).toBe(60_000);
    expect(performance.now() - started).toBeLessThan(500);
  });

  test('the remaining budget is passed to each attempt', async () => {
    const budgets: number[] = [];
    await withRetries(async (n, remaining) => {
      budgets.push(remaining);
      if (n < 2) throw retryable();
      return 'ok';
    }, policy);
    expect(budgets[0]).toBeLessThanOrEqual(2000);
    expect(budgets[1]).toBeLessThan(budgets[0]!);
  });
});
