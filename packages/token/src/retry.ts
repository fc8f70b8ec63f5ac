/**
 * Retrying a token request: which answers are worth another try, how long to
 * wait (exponential backoff with full jitter, or the server's `Retry-After`),
 * and the bounds on attempts and total time.
 *
 * Sources: RFC 9110 §10.2.3 (`Retry-After`), §15.5.9 (408), RFC 6585 §4 (429);
 * "Exponential Backoff And Jitter", AWS Architecture Blog (2015): full jitter.
 *
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TokenRequestError } from './errors.js';

/** How a failed token request is retried. All times in milliseconds. */
export interface RetryPolicy {
  /** Attempts in total, the first included; `1` turns retries off. Default 4. */
  readonly maxAttempts: number;
  /** Cap of the first backoff; doubled per retry. Default 500. */
  readonly initialDelayMs: number;
  /** Cap of any one backoff. Default 10,000. */
  readonly maxDelayMs: number;
  /**
   * Bound on the whole call, attempts and waits included. A wait (backoff or
   * `Retry-After`) that would end past it is not made: the last error is
   * thrown instead. Each attempt's timeout is clipped to what remains.
   * Default 60,000.
   */
  readonly maxElapsedMs: number;
}

/** The default {@link RetryPolicy}: 4 attempts, 0.5 s → 10 s full-jitter backoff, 60 s in total. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 4,
  initialDelayMs: 500,
  maxDelayMs: 10_000,
  maxElapsedMs: 60_000,
});

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/**
 * Whether an HTTP status is worth retrying: 408 Request Timeout, 429 Too Many
 * Requests, 500, 502, 503, 504. Every other 4xx (`invalid_client`,
 * `invalid_scope`, `unauthorized_client`, …) is final.
 */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/**
 * Parse `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
 * A date is measured against the response's own `Date` header when it has
 * one (so a skewed local clock does not matter), else against `now`.
 *
 * @param value - the header value
 * @param date - the response's `Date` header, if any
 * @param now - the local time, milliseconds since the epoch
 * @returns milliseconds to wait, 0 to {@link MAX_RETRY_AFTER_MS}, or `undefined` when absent or unparseable
 */
export function parseRetryAfter(value: string | null, date: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, MAX_RETRY_AFTER_MS);
  const at = /[a-z]/i.test(trimmed) ? Date.parse(trimmed) : Number.NaN; // an HTTP-date names a month
  if (Number.isNaN(at)) return undefined;
  const serverNow = date === null ? Number.NaN : Date.parse(date);
  return Math.min(Math.max(0, at - (Number.isNaN(serverNow) ? now : serverNow)), MAX_RETRY_AFTER_MS);
}

/**
 * The longest `Retry-After` honoured: one hour (MSAL's cap too), so one answer
 * cannot leave a scope, and `forceRefresh`, blocked until a restart.
 */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * The backoff before retry number `retry` (1 for the first retry): full
 * jitter, a uniformly random wait in `[0, min(maxDelayMs, initialDelayMs · 2^(retry-1)))`.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (retry - 1)));
}

/** What {@link withRetries} reports before each wait. */
export interface RetryNotice {
  /** The attempt that failed (1-based). */
  readonly attempt: number;
  /** The wait before the next attempt. */
  readonly delayMs: number;
  readonly error: TokenRequestError;
}

/**
 * Run `attempt` until it succeeds, throws something that is not a retryable
 * {@link TokenRequestError}, or the policy's bounds are reached. The wait is
 * the server's `Retry-After` when it sent one, else {@link backoffDelay}.
 * The error finally thrown carries the number of `attempts` made.
 *
 * @param attempt - one try; receives its 1-based number and the milliseconds left in the budget
 * @param onRetry - called before each wait
 */
export async function withRetries<T>(
  attempt: (n: number, remainingMs: number) => Promise<T>,
  policy: RetryPolicy,
  onRetry?: (notice: RetryNotice) => void,
): Promise<T> {
  const started = performance.now();
  for (let n = 1; ; n++) {
    try {
      return await attempt(n, policy.maxElapsedMs - (performance.now() - started));
    } catch (error) {
      if (!(error instanceof TokenRequestError)) throw error;
      error.attempts = n;
      if (!error.retryable || n >= policy.maxAttempts) throw error;
      const delayMs = error.retryAfterMs ?? backoffDelay(n, policy);
      if (performance.now() - started + delayMs >= policy.maxElapsedMs) throw error;
      onRetry?.({ attempt: n, delayMs, error });
      await sleep(delayMs);
    }
  }
}
