/**
 * The in-memory token cache of one credential: one entry per scope key
 * (the credential fixes the token endpoint and client id, so an entry is
 * keyed by endpoint, client id and scopes/resource), single-flight requests,
 * refresh ahead of expiry and stale-while-revalidate.
 *
 * **The refresh rule.** A token is *usable* until {@link EXPIRY_MARGIN_MS}
 * before it expires, and never returned after that. It is *due* for refresh
 * at `refresh_in` after the request when the server sent `refresh_in`
 * (Entra ID), otherwise at half its lifetime or 5 minutes before expiry,
 * whichever comes first, and never later than the end of usability. For any
 * token of 10 minutes or more, half the lifetime comes first; for a shorter
 * one, "5 minutes before expiry" would fall before half-life (or before the
 * token was issued) and refresh on every call, so half the lifetime is used
 * there too: in effect, half the lifetime. Before
 * it is due, a cached token is returned with no I/O. Once due, it is still
 * returned at once while one background request fetches its successor; if
 * that request fails, the cached token goes on being served and the next
 * attempt waits `refreshRetryMs` (default 30 s), so a failing server sees one
 * request per key per interval, not one per caller. When no usable token is
 * cached, callers wait for the single request in flight for their key.
 *
 * **Throttling.** When a request fails with a `Retry-After` the retries
 * could not wait out (e.g. Entra's 429 with `Retry-After: 120`), the key is
 * left alone until then: callers without a usable token get that error at
 * once, without a request, and the next background refresh waits too.
 *
 * @module
 */
import { describeError, TokenRequestError } from './errors.js';
import type { EventSink } from './events.js';
import type { TokenResponse } from './response.js';

/**
 * An access token in the shape of `@azure/core-auth`'s `AccessToken`, so a
 * credential is an Azure SDK `TokenCredential`. Frozen; the same object is
 * returned on every cache hit.
 */
export interface AccessToken {
  /** The access token. Treat it as a secret. */
  readonly token: string;
  /** Expiry, milliseconds since the epoch. */
  readonly expiresOnTimestamp: number;
  /** When this credential will fetch a new token, milliseconds since the epoch. */
  readonly refreshAfterTimestamp: number;
  readonly tokenType: 'Bearer' | 'pop';
}

/** A token is treated as expired this long (30 s) before its expiry, and never returned after that. */
export const EXPIRY_MARGIN_MS = 30_000;

/**
 * When to refresh a token (see the module's refresh rule).
 *
 * @param requestedAt - when the token request was sent, ms since the epoch
 * @param expiresOnTimestamp - expiry, ms since the epoch
 * @param refreshInSeconds - the server's `refresh_in`, if sent
 * @returns ms since the epoch, between `requestedAt` and the end of usability
 */
export function refreshAfterTimestamp(requestedAt: number, expiresOnTimestamp: number, refreshInSeconds?: number): number {
  const lifetime = expiresOnTimestamp - requestedAt;
  const offset = refreshInSeconds !== undefined ? refreshInSeconds * 1000 : lifetime / 2; // see the refresh rule above
  return requestedAt + Math.floor(Math.max(0, Math.min(offset, lifetime - EXPIRY_MARGIN_MS)));
}

/** A cached token. */
export interface CacheEntry {
  readonly response: TokenResponse;
  readonly token: AccessToken;
  /** `Promise.resolve(token)`, made once, returned on every hit. */
  readonly resolved: Promise<AccessToken>;
  /** Returned only before this time (expiry minus {@link EXPIRY_MARGIN_MS}). */
  readonly usableUntil: number;
  /** Hits are served with no further check before this time: the refresh time, or the next background try. */
  checkAt: number;
}

/** Options of a {@link TokenCache}. */
export interface TokenCacheOptions {
  /** The clock, ms since the epoch. */
  readonly now: () => number;
  /** Wait between background refresh attempts for one key, ms. */
  readonly refreshRetryMs: number;
  readonly events: EventSink;
}

/** Entries beyond this count trigger a sweep of expired ones on insert. */
const SWEEP_THRESHOLD = 64;

/** See the module documentation. */
export class TokenCache {
  readonly #entries = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<CacheEntry>>();
  /** Keys the server asked us to leave alone (`Retry-After`), until when, and its error. */
  readonly #throttled = new Map<string, { readonly until: number; readonly error: TokenRequestError }>();
  readonly #options: TokenCacheOptions;

  constructor(options: TokenCacheOptions) {
    this.#options = options;
  }

  /**
   * The hit path: the cached token's (pre-made) promise when the token is
   * neither due nor near expiry, else `undefined`. Synchronous; no I/O, no
   * allocation.
   */
  hit(key: string): Promise<AccessToken> | undefined {
    const entry = this.#entries.get(key);
    return entry !== undefined && this.#options.now() < entry.checkAt ? entry.resolved : undefined;
  }

  /**
   * The entry for `key`: the cached one while usable (starting a background
   * refresh when due), else the result of the request in flight for `key`,
   * else of a new request made with `fetch`.
   *
   * @param forceRefresh - skip the cached token (e.g. the server refused it with 401); joins a request already in flight
   */
  lookup(key: string, fetch: () => Promise<TokenResponse>, forceRefresh: boolean): Promise<CacheEntry> {
    const now = this.#options.now();
    const entry = this.#entries.get(key);
    if (!forceRefresh && entry !== undefined && now < entry.usableUntil) {
      if (now >= entry.checkAt && !this.#inflight.has(key)) this.#refreshInBackground(key, entry, now, fetch);
      return Promise.resolve(entry);
    }
    const inflight = this.#inflight.get(key);
    if (inflight !== undefined) return inflight;
    const throttled = this.#throttled.get(key);
    if (throttled !== undefined && now < throttled.until) return Promise.reject(throttled.error);
    if (entry !== undefined) this.#options.events.emit({ type: 'refresh', scope: key, reason: forceRefresh ? 'forced' : 'expired' });
    return this.#start(key, fetch);
  }

  #refreshInBackground(key: string, entry: CacheEntry, now: number, fetch: () => Promise<TokenResponse>): void {
    entry.checkAt = Math.min(now + this.#options.refreshRetryMs, entry.usableUntil);
    this.#options.events.emit({ type: 'refresh', scope: key, reason: 'due' });
    this.#start(key, fetch).catch((error: unknown) => {
      // refreshRetryMs counts from the failure: a refresh whose retries outlast it must not be followed at once by the next.
      const throttledUntil = this.#throttled.get(key)?.until ?? 0;
      entry.checkAt = Math.min(Math.max(this.#options.now() + this.#options.refreshRetryMs, throttledUntil), entry.usableUntil);
      const { code, message } = describeError(error);
      this.#options.events.emit({ type: 'refresh-failed', scope: key, code, message, retryAt: entry.checkAt });
    });
  }

  #start(key: string, fetch: () => Promise<TokenResponse>): Promise<CacheEntry> {
    const flight = fetch()
      .then(
        (response) => this.#store(key, response),
        (error: unknown) => {
          if (error instanceof TokenRequestError && error.retryAfterMs !== undefined) {
            this.#throttled.set(key, { until: this.#options.now() + error.retryAfterMs, error });
          }
          throw error;
        },
      )
      .finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, flight);
    return flight;
  }

  #store(key: string, response: TokenResponse): CacheEntry {
    const token: AccessToken = Object.freeze({
      token: response.accessToken,
      expiresOnTimestamp: response.expiresOnTimestamp,
      refreshAfterTimestamp: response.refreshAfterTimestamp,
      tokenType: response.tokenType,
    });
    const usableUntil = response.expiresOnTimestamp - EXPIRY_MARGIN_MS;
    const entry: CacheEntry = {
      response,
      token,
      resolved: Promise.resolve(token),
      usableUntil,
      checkAt: Math.min(response.refreshAfterTimestamp, usableUntil),
    };
    if (this.#entries.size >= SWEEP_THRESHOLD) this.#sweep();
    this.#entries.set(key, entry);
    this.#throttled.delete(key);
    return entry;
  }

  #sweep(): void {
    const now = this.#options.now();
    for (const [key, entry] of this.#entries) if (entry.usableUntil <= now) this.#entries.delete(key);
  }
}
