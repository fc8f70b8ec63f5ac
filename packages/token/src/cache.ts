/**
 * The token cache of one credential: the policy (when a token is usable,
 * when it is due for refresh, single flight, throttling) over level 1, an
 * in-process map with one entry per scope key (the credential fixes the token
 * endpoint and client id). Level 2, an optional shared `TokenStore`, sits
 * behind the token source the client hands in (see `store-lookup`); this
 * module is the only place that decides freshness, and tells a store through
 * {@link isFresh} and {@link isUsable}.
 *
 * **The refresh rule.** A token is *usable* until its expiry margin before it
 * expires (30 s, or a quarter of its lifetime when that is shorter, so a
 * 12-second token is still served), and never returned after that. It is
 * *due* for refresh at `refresh_in` after the request when the server sent
 * `refresh_in` (Entra ID), otherwise at half its lifetime, and never later
 * than the end of usability. Before it is due, a cached token is returned
 * with no I/O. Once due, it is still returned at once while one background
 * request fetches its successor; if that request fails, the cached token
 * goes on being served and the next attempt waits `refreshRetryMs` (default
 * 30 s), so a failing server sees one request per key per interval, not one
 * per caller. When no usable token is cached, callers wait for the single
 * request in flight for their key.
 *
 * **Throttling.** When a request fails with a `Retry-After` the retries
 * could not wait out (e.g. Entra's 429 with `Retry-After: 120`; capped at
 * one hour when parsed), the key is left alone until then: callers without a
 * usable token get that error at once, without a request, and the next
 * background refresh waits too.
 *
 * @module
 */
import { TokenRequestError } from './errors.js';
import { describeError } from './redact.js';
import { MAX_RETRY_AFTER_MS } from './retry.js';
import type { EventSink } from './events.js';
import type { TokenResponse, TokenType } from './response.js';

/**
 * An access token in the shape of `@azure/core-auth`'s `AccessToken`, so a
 * credential is an Azure SDK `TokenCredential`. Frozen; the same object is
 * returned on every cache hit. `AccessToken` alone is a bearer token, as
 * core-auth's is; a bound one says so: `AccessToken<'DPoP'>`,
 * `AccessToken<'mtls_pop'>`, or `AccessToken<TokenType>` for any.
 */
export interface AccessToken<T extends TokenType = 'Bearer'> {
  /** The access token. Treat it as a secret. */
  readonly token: string;
  /** Expiry, milliseconds since the epoch. */
  readonly expiresOnTimestamp: number;
  /** When this credential will fetch a new token, milliseconds since the epoch. */
  readonly refreshAfterTimestamp: number;
  /** How the token must be presented: `Bearer`, `DPoP` (with a proof) or `mtls_pop` (over mTLS). */
  readonly tokenType: T;
}

/** A token response as cached: with the refresh time this cache chose. Frozen. */
export interface CachedTokenResponse extends TokenResponse {
  /** When this credential will fetch a new token, milliseconds since the epoch (see the refresh rule). */
  readonly refreshAfterTimestamp: number;
}

/** The largest expiry margin: a token is treated as expired at most this long (30 s) before its expiry. */
export const EXPIRY_MARGIN_MS = 30_000;

/** What the policy reads from a response: all of it plain data, the same on every replica. */
type Lifetime = Pick<TokenResponse, 'expiresIn' | 'expiresOnTimestamp' | 'refreshIn'>;

/**
 * The expiry margin of a token, ms: {@link EXPIRY_MARGIN_MS}, or a quarter of
 * its lifetime when that is shorter.
 *
 * @param expiresInSeconds - the token's `expires_in`
 */
export function expiryMarginMs(expiresInSeconds: number): number {
  return Math.min(EXPIRY_MARGIN_MS, Math.floor((expiresInSeconds * 1000) / 4));
}

/** The end of a token's usability (expiry minus its margin), ms since the epoch. */
export function usableUntil(response: Lifetime): number {
  return response.expiresOnTimestamp - expiryMarginMs(response.expiresIn);
}

/**
 * When to refresh a token (see the refresh rule): `refresh_in`, else half
 * the lifetime, counted from the request, never past the end of usability.
 *
 * @returns ms since the epoch
 */
export function refreshAfterTimestamp(response: Lifetime): number {
  const lifetime = response.expiresIn * 1000;
  const requestedAt = response.expiresOnTimestamp - lifetime;
  const offset = response.refreshIn !== undefined ? response.refreshIn * 1000 : lifetime / 2;
  return requestedAt + Math.floor(Math.max(0, Math.min(offset, lifetime - expiryMarginMs(response.expiresIn))));
}

/** Whether `response` may be served at `now` (within its usability). */
export function isUsable(response: Lifetime, now: number): boolean {
  return now < usableUntil(response);
}

/** Whether `response` may be served at `now` without a refresh (usable and not yet due). */
export function isFresh(response: Lifetime, now: number): boolean {
  return now < Math.min(refreshAfterTimestamp(response), usableUntil(response));
}

/**
 * Where the cache gets a token: level 2 (a store) when configured, else the
 * token request itself.
 *
 * @param forceRefresh - skip any stored token
 */
export type TokenSource = (forceRefresh: boolean) => Promise<TokenResponse>;

/** A cached token. */
export interface CacheEntry {
  readonly response: CachedTokenResponse;
  readonly token: AccessToken<TokenType>;
  /** `Promise.resolve(token)`, made once, returned on every hit. */
  readonly resolved: Promise<AccessToken<TokenType>>;
  /** Returned only before this time (expiry minus its margin). */
  readonly usableUntil: number;
  /** Hits are served with no further check before this time: the refresh time, or the next background try. */
  checkAt: number;
  /** The order in which the request behind it started (per cache): an older request's answer never replaces it. */
  readonly started: number;
}

/** Options of a {@link TokenCache}. */
export interface TokenCacheOptions {
  /** The clock, ms since the epoch. */
  readonly now: () => number;
  /** Wait between background refresh attempts for one key, ms. */
  readonly refreshRetryMs: number;
  readonly events: EventSink;
}

/** Entries (tokens, throttled keys) beyond this count trigger a sweep of the expired ones on insert. */
const SWEEP_THRESHOLD = 64;

/** See the module documentation. */
export class TokenCache {
  readonly #entries = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<CacheEntry>>();
  /** Keys the server asked us to leave alone (`Retry-After`), until when, and its error. */
  readonly #throttled = new Map<string, { readonly until: number; readonly error: TokenRequestError }>();
  readonly #options: TokenCacheOptions;
  /** Requests started so far: orders answers, so a claims challenge's token is not replaced by an older request's. */
  #started = 0;

  constructor(options: TokenCacheOptions) {
    this.#options = options;
  }

  /**
   * The hit path: the cached token's (pre-made) promise when the token is
   * neither due nor near expiry, else `undefined`. Synchronous; no I/O, no
   * allocation.
   */
  hit(key: string): Promise<AccessToken<TokenType>> | undefined {
    const entry = this.#entries.get(key);
    return entry !== undefined && this.#options.now() < entry.checkAt ? entry.resolved : undefined;
  }

  /**
   * The entry for `key`: the cached one while usable (starting a background
   * refresh when due), else the result of the request in flight for `key`,
   * else of a new request made with `source`.
   *
   * @param forceRefresh - skip the cached token (e.g. the server refused it with 401); joins a request already in flight
   * @param flightKey - the single-flight key: `key` unless the request differs from a plain one for `key` (a claims
   *   challenge: only callers with the same claims join it); its result is stored under `key` all the same
   */
  lookup(key: string, source: TokenSource, forceRefresh: boolean, flightKey = key): Promise<CacheEntry> {
    const now = this.#options.now();
    const entry = this.#entries.get(key);
    if (!forceRefresh && entry !== undefined && now < entry.usableUntil) {
      if (now >= entry.checkAt && !this.#inflight.has(key)) this.#refreshInBackground(key, entry, now, source);
      return Promise.resolve(entry);
    }
    const inflight = this.#inflight.get(flightKey);
    if (inflight !== undefined) return inflight;
    const throttled = this.#throttled.get(key);
    if (throttled !== undefined && now < throttled.until) return Promise.reject(throttled.error);
    if (entry !== undefined) this.#options.events.emit({ type: 'refresh', scope: key, reason: forceRefresh ? 'forced' : 'expired' });
    return this.#start(key, source, forceRefresh, flightKey);
  }

  #refreshInBackground(key: string, entry: CacheEntry, now: number, source: TokenSource): void {
    entry.checkAt = Math.min(now + this.#options.refreshRetryMs, entry.usableUntil);
    this.#options.events.emit({ type: 'refresh', scope: key, reason: 'due' });
    this.#start(key, source, false).catch((error: unknown) => {
      // refreshRetryMs counts from the failure: a refresh whose retries outlast it must not be followed at once by the next.
      const throttledUntil = this.#throttled.get(key)?.until ?? 0;
      entry.checkAt = Math.min(Math.max(this.#options.now() + this.#options.refreshRetryMs, throttledUntil), entry.usableUntil);
      const { code, message } = describeError(error);
      this.#options.events.emit({ type: 'refresh-failed', scope: key, code, message, retryAt: entry.checkAt });
    });
  }

  #start(key: string, source: TokenSource, forceRefresh: boolean, flightKey = key): Promise<CacheEntry> {
    const started = ++this.#started;
    const flight = source(forceRefresh)
      .then(
        (response) => this.#store(key, response, started),
        (error: unknown) => {
          if (error instanceof TokenRequestError && error.retryAfterMs !== undefined) {
            if (this.#throttled.size >= SWEEP_THRESHOLD) this.#sweepThrottled();
            this.#throttled.set(key, { until: this.#options.now() + Math.min(error.retryAfterMs, MAX_RETRY_AFTER_MS), error });
          }
          throw error;
        },
      )
      .finally(() => this.#inflight.delete(flightKey));
    this.#inflight.set(flightKey, flight);
    return flight;
  }

  #store(key: string, answer: TokenResponse, started: number): CacheEntry {
    const newer = this.#entries.get(key);
    // A request that started before the cached token's (a plain refresh overtaken by a claims challenge) is not kept.
    if (newer !== undefined && newer.started > started && this.#options.now() < newer.usableUntil) return newer;
    const refreshAt = refreshAfterTimestamp(answer);
    const response: CachedTokenResponse = Object.freeze({ ...answer, refreshAfterTimestamp: refreshAt });
    const token: AccessToken<TokenType> = Object.freeze({
      token: response.accessToken,
      expiresOnTimestamp: response.expiresOnTimestamp,
      refreshAfterTimestamp: refreshAt,
      tokenType: response.tokenType,
    });
    const until = usableUntil(response);
    const now = this.#options.now();
    // A response already due (a store served a stale one while a refresh runs elsewhere) is checked again after
    // refreshRetryMs, not on every call.
    const checkAt = Math.min(refreshAt > now ? refreshAt : now + this.#options.refreshRetryMs, until);
    const entry: CacheEntry = { response, token, resolved: Promise.resolve(token), usableUntil: until, checkAt, started };
    if (this.#entries.size >= SWEEP_THRESHOLD) this.#sweep();
    this.#entries.set(key, entry);
    this.#throttled.delete(key);
    return entry;
  }

  #sweep(): void {
    const now = this.#options.now();
    for (const [key, entry] of this.#entries) if (entry.usableUntil <= now) this.#entries.delete(key);
  }

  #sweepThrottled(): void {
    const now = this.#options.now();
    for (const [key, throttled] of this.#throttled) if (throttled.until <= now) this.#throttled.delete(key);
  }
}
