/**
 * `createRedisTokenStore`: the second level of `@x/token`'s cache, shared by
 * every process that uses the same Redis.
 *
 * **A lookup** (one per key per process at a time: the credential's level 1
 * single-flights it) reads the entry and the throttling mark in one `MGET`:
 * - a fresh entry is returned (`store-hit`);
 * - while the token endpoint asked this key to wait (`Retry-After`, stored by
 *   whichever process saw it, at most {@link MAX_THROTTLE_MS}), a usable entry
 *   is returned, else `ERR_THROTTLED` is thrown without a request
 *   (`store-throttled`);
 * - otherwise the process tries the lock (`SET NX PX lockTtlMs`, a random
 *   owner id, renewed while its holder fetches, so it expires only when the
 *   holder dies). The winner reads the entry once more (a holder may have
 *   stored it and released the lock since the first read: then it is
 *   returned, `store-hit`), else fetches (`store-lock-won`), stores the token if it
 *   is newer than the stored one (Lua), then releases the lock
 *   (compare-and-delete, Lua). A loser holding a usable entry returns it: one
 *   process refreshes ahead for the fleet, the others serve the current token
 *   until they see the new one. A loser with nothing usable polls with jitter
 *   (`store-lock-waited` when the token arrives); if the lock disappears
 *   without a token (its holder died), the next poll takes it; after
 *   `waitTimeoutMs` it fetches itself. The lock only saves requests:
 *   correctness never depends on it.
 *
 * **Redis is never a single point of failure.** Every command is bounded by
 * `commandTimeoutMs`, with no offline queue. Any Redis failure opens a circuit
 * breaker for `retryAfterMs`: lookups then call `request.fetch()` directly
 * (`store-fallback`), the credential's level 1 and its single-flight carry on,
 * and Redis is tried again after the pause. A store failure never rejects a
 * lookup; only `request.fetch()`'s error or `ERR_THROTTLED` / `ERR_ABORTED` do.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { redact, TokenErrorCode, TokenRequestError } from '@x/token';
import type { TokenResponse, TokenStore, TokenStoreEvent, TokenStoreRequest } from './contract.js';
import { keyNames, type KeyNames } from './keys.js';
import { displayRedisUrl, urlPassword } from './redaction.js';
import { putIfNewer, releaseLock, renewLock } from './scripts.js';
import { deriveEncryptionKey, ENCRYPTION_KEY_BYTES, open, seal } from './seal.js';

/** The longest `Retry-After` stored for the fleet: one hour. */
export const MAX_THROTTLE_MS = 3_600_000;

/** The code of the fleet-wide throttling error (a `TokenRequestError` with `retryAfterMs`): `@x/token`'s `ERR_THROTTLED`. */
export const THROTTLED_CODE = TokenErrorCode.THROTTLED;

/** Options of {@link createRedisTokenStore}. Exactly one of `url` and `client`. */
export interface RedisTokenStoreOptions {
  /**
   * `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS, e.g.
   * Azure Cache for Redis: `rediss://:ACCESS_KEY@NAME.redis.cache.windows.net:6380`).
   * The store owns this connection and closes it in `close()`.
   */
  readonly url?: string;
  /**
   * An ioredis client the application already has; the store never closes
   * it. Create it with `enableOfflineQueue: false` and `maxRetriesPerRequest: 0`
   * so a dead Redis fails fast (the store bounds each command with
   * `commandTimeoutMs` regardless).
   */
  readonly client?: Redis;
  /**
   * 32 bytes: the AES-256-GCM key for entries. Required for credentials that
   * give no key material (an EC key, a client secret, an assertion callback);
   * otherwise the key is derived from the credential's private key.
   */
  readonly encryptionKey?: Uint8Array;
  /** Prefix of every Redis key name. @defaultValue `'x-token:'` */
  readonly keyPrefix?: string;
  /** Bound on each Redis command, ms. @defaultValue `500` */
  readonly commandTimeoutMs?: number;
  /** Bound on connecting (TCP, TLS, AUTH), ms. @defaultValue `2000` */
  readonly connectTimeoutMs?: number;
  /** TTL of the single-flight lock, ms: longer than a token request with its retries usually takes. @defaultValue `10000` */
  readonly lockTtlMs?: number;
  /** How long a process waits for another's token request before making its own, ms. @defaultValue `15000` */
  readonly waitTimeoutMs?: number;
  /** After a Redis failure, how long to use the local cache only before trying Redis again, ms. @defaultValue `5000` */
  readonly retryAfterMs?: number;
}

const DEFAULTS = { keyPrefix: 'x-token:', commandTimeoutMs: 500, connectTimeoutMs: 2_000, lockTtlMs: 10_000, waitTimeoutMs: 15_000, retryAfterMs: 5_000 };
const POLL_MIN_MS = 5;
const POLL_MAX_MS = 100;


/** A Redis failure inside a lookup: caught at its top, never seen by callers. */
class StoreUnavailable extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

function invalid(message: string): TokenRequestError {
  return new TokenRequestError(TokenErrorCode.INVALID_OPTIONS, message);
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw invalid(`createRedisTokenStore: ${name} must be a positive number of milliseconds`);
  return value;
}

/**
 * A {@link TokenStore} on Redis (or anything speaking its protocol: Valkey,
 * Azure Cache for Redis; Redis Cluster through an ioredis `Cluster` passed as
 * `client`, since an entry, its lock and its mark share one hash slot).
 *
 * @example
 * ```ts
 * const tokenStore = createRedisTokenStore({ url: process.env.X_TOKEN_REDIS_URL });
 * const credential = new ClientCertificateCredential(tenant, clientId, certPath, { tokenStore });
 * ```
 * @throws TokenRequestError `ERR_INVALID_OPTIONS` — neither or both of `url` and
 *   `client`; a URL that is not `redis:` / `rediss:`; an `encryptionKey` not of
 *   32 bytes; a non-positive duration. The message shows the URL with its password redacted.
 */
export function createRedisTokenStore(options: RedisTokenStoreOptions): TokenStore & { close(): Promise<void>; toString(): string } {
  if ((options.url === undefined) === (options.client === undefined)) throw invalid('createRedisTokenStore: give exactly one of url and client');
  if (options.url !== undefined && !/^rediss?:\/\//i.test(options.url)) {
    throw invalid(`createRedisTokenStore: url must start with redis:// or rediss:// (got ${displayRedisUrl(options.url)})`);
  }
  if (options.encryptionKey !== undefined && options.encryptionKey.byteLength !== ENCRYPTION_KEY_BYTES) {
    throw invalid(`createRedisTokenStore: encryptionKey must be ${ENCRYPTION_KEY_BYTES} bytes`);
  }
  const settings = {
    keyPrefix: options.keyPrefix ?? DEFAULTS.keyPrefix,
    commandTimeoutMs: positive('commandTimeoutMs', options.commandTimeoutMs, DEFAULTS.commandTimeoutMs),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, DEFAULTS.connectTimeoutMs),
    lockTtlMs: Math.ceil(positive('lockTtlMs', options.lockTtlMs, DEFAULTS.lockTtlMs)),
    waitTimeoutMs: positive('waitTimeoutMs', options.waitTimeoutMs, DEFAULTS.waitTimeoutMs),
    retryAfterMs: positive('retryAfterMs', options.retryAfterMs, DEFAULTS.retryAfterMs),
  };
  return new RedisTokenStore(options, settings);
}

type Settings = typeof DEFAULTS;

class RedisTokenStore implements TokenStore {
  readonly #client: Redis;
  readonly #owned: boolean;
  readonly #settings: Settings;
  readonly #encryptionKey: Uint8Array | undefined;
  readonly #shown: string;
  readonly #password: string | undefined;
  /** The circuit breaker: Redis is skipped until this time (ms since the epoch). */
  #skipUntil = 0;
  /** The last error the connection reported, for the next `store-error` event. */
  #lastError: { code: string; message: string } | undefined;

  constructor(options: RedisTokenStoreOptions, settings: Settings) {
    this.#settings = settings;
    this.#encryptionKey = options.encryptionKey === undefined ? undefined : new Uint8Array(options.encryptionKey);
    this.#password = options.url === undefined ? undefined : urlPassword(options.url);
    this.#shown = options.url === undefined ? 'redis (client given)' : displayRedisUrl(options.url);
    this.#owned = options.client === undefined;
    this.#client =
      options.client ??
      new Redis(options.url!, {
        // The defaults queue commands while disconnected and retry them: a dead Redis would hang getToken.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: settings.commandTimeoutMs,
        connectTimeout: settings.connectTimeoutMs,
        retryStrategy: (times) => Math.min(times * 200, settings.retryAfterMs),
      });
    // Without a listener ioredis prints connection errors; they surface as store-error events instead.
    this.#client.on('error', (error: unknown) => (this.#lastError = this.#describe(error)));
  }

  toString(): string {
    return `RedisTokenStore(${this.#shown})`;
  }

  toJSON(): Record<string, string> {
    return { store: 'redis', url: this.#shown };
  }

  async close(): Promise<void> {
    if (!this.#owned) return;
    try {
      await this.#bounded(this.#client.quit());
    } catch {
      this.#client.disconnect();
    }
  }

  async lookup(request: TokenStoreRequest): Promise<TokenResponse> {
    const emit = (type: TokenStoreEvent['type'], extra: Omit<TokenStoreEvent, 'type' | 'scope'> = {}) =>
      request.emit({ type, scope: request.key.scopes, ...extra });
    if (Date.now() < this.#skipUntil) {
      emit('store-fallback', { code: 'ERR_STORE_UNAVAILABLE', message: `${this.#shown} skipped after a failure; fetching locally` });
      return request.fetch();
    }
    let key: Uint8Array | undefined;
    try {
      key = this.#encryptionKey ?? (await request.keyMaterial().then((m) => (m === undefined ? undefined : deriveEncryptionKey(m))));
    } catch {
      key = undefined;
    }
    if (key === undefined) {
      emit('store-fallback', { code: 'ERR_NO_ENCRYPTION_KEY', message: 'no encryptionKey and no key material from the credential: tokens are not shared' });
      return request.fetch();
    }
    const state: LookupState = { fetched: undefined };
    try {
      return await this.#shared(request, key, keyNames(this.#settings.keyPrefix, request.key), emit, state);
    } catch (error) {
      if (!(error instanceof StoreUnavailable)) throw error;
      this.#trip(error, emit);
      return state.fetched ?? request.fetch();
    }
  }

  async #shared(request: TokenStoreRequest, key: Uint8Array, names: KeyNames, emit: Emit, state: LookupState): Promise<TokenResponse> {
    await this.#ready();
    const started = Date.now();
    let skipped: string | null | undefined; // with forceRefresh: the entry seen first, which must not be returned
    let delayMs = POLL_MIN_MS;
    let waited = false;
    let reportedBadEntry = false;
    for (;;) {
      if (request.signal?.aborted === true) throw new TokenRequestError(TokenErrorCode.ABORTED, 'the token request was aborted');
      const [value, throttledUntil] = await this.#redis(this.#client.mget(names.entry, names.throttle));
      if (request.forceRefresh && skipped === undefined) skipped = value;
      let stored: TokenResponse | undefined;
      const unreadable = value !== null && value !== skipped && (stored = open(key, names.entry, value)) === undefined;
      if (unreadable && !reportedBadEntry) {
        reportedBadEntry = true;
        emit('store-decrypt-failed', { code: 'ERR_STORE_DECRYPT', message: 'a stored entry failed authentication (tampered, or sealed with another key); ignored' });
      }
      if (stored !== undefined && request.isFresh(stored)) {
        emit(waited ? 'store-lock-waited' : 'store-hit', waited ? { waitedMs: Date.now() - started } : {});
        return stored;
      }
      const usable = stored !== undefined && request.isUsable(stored) ? stored : undefined;
      const throttleMs = throttledUntil === null ? 0 : Number(throttledUntil) - Date.now();
      if (throttleMs > 0) {
        if (usable !== undefined) return hit(usable, emit);
        emit('store-throttled', { code: THROTTLED_CODE, message: `the token endpoint asked the fleet to wait ${Math.ceil(throttleMs)} ms` });
        throw new TokenRequestError(THROTTLED_CODE, `throttled: another process was told to retry after ${Math.ceil(throttleMs)} ms; no request sent`, {
          retryAfterMs: Math.ceil(throttleMs),
          retryable: true,
        });
      }
      if (!waited && usable === undefined) emit('store-miss');
      const owner = randomBytes(16).toString('hex');
      const won = (await this.#redis(this.#client.set(names.lock, owner, 'PX', this.#settings.lockTtlMs, 'NX'))) === 'OK';
      if (won) {
        // Another holder may have stored a token and released the lock between the read above
        // and this SET: read once more, so that a lock won late never costs a second request.
        const late = await this.#redis(this.#client.get(names.entry));
        const storedLate = late !== null && late !== skipped && late !== value ? open(key, names.entry, late) : undefined;
        if (storedLate !== undefined && request.isFresh(storedLate)) {
          await this.#redis(releaseLock.run(this.#client, [names.lock], [owner]));
          emit('store-hit');
          return storedLate;
        }
        emit('store-lock-won');
        return this.#fetchAndStore(request, key, names, owner, unreadable, state, emit);
      }
      if (usable !== undefined) return hit(usable, emit); // another process refreshes ahead for the fleet
      if (Date.now() - started >= this.#settings.waitTimeoutMs) {
        emit('store-fallback', { code: 'ERR_STORE_WAIT_TIMEOUT', message: `no token from the lock holder within ${this.#settings.waitTimeoutMs} ms; fetching` });
        return this.#fetchAndStore(request, key, names, undefined, unreadable, state, emit);
      }
      waited = true;
      await sleep(delayMs * (0.5 + Math.random()), request.signal);
      delayMs = Math.min(delayMs * 1.5, POLL_MAX_MS);
    }
  }

  /**
   * Keep the lock while this process fetches (a slow token endpoint, retries,
   * a cold process on a busy machine): renewed every third of `lockTtlMs`, so
   * it expires only when its holder dies. Best effort: a lost renewal costs at
   * most a duplicate request, never a wrong token.
   */
  #renewWhileFetching(lock: string, owner: string): NodeJS.Timeout {
    const { lockTtlMs } = this.#settings;
    const timer = setInterval(() => void renewLock.run(this.#client, [lock], [owner, lockTtlMs]).catch(() => {}), Math.max(1, Math.floor(lockTtlMs / 3)));
    timer.unref();
    return timer;
  }

  async #fetchAndStore(
    request: TokenStoreRequest,
    key: Uint8Array,
    names: KeyNames,
    owner: string | undefined,
    replace: boolean,
    state: LookupState,
    emit: Emit,
  ): Promise<TokenResponse> {
    let response: TokenResponse;
    const renewal = owner === undefined ? undefined : this.#renewWhileFetching(names.lock, owner);
    try {
      response = await request.fetch();
    } catch (error) {
      const retryAfterMs = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
      try {
        if (typeof retryAfterMs === 'number' && retryAfterMs > 0) {
          const ms = Math.ceil(Math.min(retryAfterMs, MAX_THROTTLE_MS));
          await this.#redis(this.#client.set(names.throttle, String(Date.now() + ms), 'PX', ms));
        }
        if (owner !== undefined) await this.#redis(releaseLock.run(this.#client, [names.lock], [owner]));
      } catch (storeError) {
        if (storeError instanceof StoreUnavailable) this.#trip(storeError, emit);
      }
      throw error;
    } finally {
      clearInterval(renewal);
    }
    state.fetched = response;
    // Until expiry: the cache's policy (request.isUsable) decides when it stops being served.
    const ttlMs = Math.floor(response.expiresOnTimestamp - Date.now());
    if (ttlMs > 0) {
      const sealed = seal(key, names.entry, response);
      const expiresOn = Math.floor(response.expiresOnTimestamp);
      await this.#redis(putIfNewer.run(this.#client, [names.entry, names.throttle], [sealed, expiresOn, ttlMs, replace ? '1' : '0']));
    }
    if (owner !== undefined) await this.#redis(releaseLock.run(this.#client, [names.lock], [owner]));
    return response;
  }

  /** Resolves once connected; waits only while a connection attempt is under way (bounded), else fails at once. */
  async #ready(): Promise<void> {
    const client = this.#client;
    if (client.status === 'ready') return;
    if (client.status === 'wait') void client.connect().catch(() => {});
    else if (client.status !== 'connecting' && client.status !== 'connect') {
      throw new StoreUnavailable(this.#lastError?.code ?? 'ERR_REDIS_DISCONNECTED', this.#lastError?.message ?? `not connected (${client.status})`);
    }
    await this.#redis(
      new Promise<void>((resolve, reject) => {
        const done = (error?: unknown) => {
          client.off('ready', onReady).off('error', onError).off('end', onEnd);
          if (error === undefined) resolve();
          else reject(error);
        };
        const onReady = () => done();
        const onError = (error: unknown) => done(error);
        const onEnd = () => done(new Error('connection closed'));
        client.once('ready', onReady).once('error', onError).once('end', onEnd);
      }),
      this.#settings.connectTimeoutMs,
    );
  }

  /** `promise`, bounded by `timeoutMs`; any failure becomes a {@link StoreUnavailable}. */
  async #redis<T>(promise: Promise<T>, timeoutMs = this.#settings.commandTimeoutMs): Promise<T> {
    try {
      return await this.#bounded(promise, timeoutMs);
    } catch (error) {
      const { code, message } = this.#describe(error);
      throw new StoreUnavailable(code, message);
    }
  }

  #bounded<T>(promise: Promise<T>, timeoutMs = this.#settings.commandTimeoutMs): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ERR_REDIS_TIMEOUT' })), timeoutMs);
    });
    promise.catch(() => {}); // a late rejection after the timeout is not unhandled
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  #describe(error: unknown): { code: string; message: string } {
    const raw = error instanceof Error ? error.message : String(error);
    const code = (error as { code?: unknown } | null)?.code;
    const message = redact(`${this.#shown}: ${raw}`, this.#password === undefined ? [] : [this.#password]).slice(0, 300);
    return { code: typeof code === 'string' ? code : raw === 'Command timed out' ? 'ERR_REDIS_TIMEOUT' : 'ERR_REDIS', message };
  }

  #trip(error: StoreUnavailable, emit: Emit): void {
    this.#skipUntil = Date.now() + this.#settings.retryAfterMs;
    emit('store-error', { code: error.code, message: error.message });
    emit('store-fallback', { code: 'ERR_STORE_UNAVAILABLE', message: `Redis skipped for ${this.#settings.retryAfterMs} ms; fetching locally` });
  }
}

type Emit = (type: TokenStoreEvent['type'], extra?: Omit<TokenStoreEvent, 'type' | 'scope'>) => void;
interface LookupState {
  /** The response this lookup fetched itself, returned if storing it fails. */
  fetched: TokenResponse | undefined;
}

function hit(response: TokenResponse, emit: Emit): TokenResponse {
  emit('store-hit');
  return response;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
