/**
 * What a credential reports while it works: to an optional `logger`
 * function and to the `node:diagnostics_channel` channel
 * {@link TOKEN_DIAGNOSTICS_CHANNEL}.
 *
 * Events are redacted by construction: they carry endpoints, scopes,
 * client ids, statuses, times, thumbprints and error codes, never an
 * assertion, an access token, a key, a passphrase or a secret. Nothing is
 * built when nobody listens, so the cache-hit path stays allocation-free.
 *
 * @example
 * ```ts
 * import diagnostics_channel from 'node:diagnostics_channel';
import type { TokenStoreEventType } from './store.js';
 * diagnostics_channel.subscribe(TOKEN_DIAGNOSTICS_CHANNEL, (event) => console.log(event));
 * ```
 *
 * @module
 */
import diagnostics_channel from 'node:diagnostics_channel';
import type { TokenStoreEventType } from './store.js';

/** The `node:diagnostics_channel` name every credential publishes {@link TokenEvent}s on. */
export const TOKEN_DIAGNOSTICS_CHANNEL = 'x-token';

/**
 * One event. Every event names the `clientId` it concerns. Times are
 * milliseconds (timestamps: since the epoch).
 *
 * - `request`: an HTTP attempt is about to be sent.
 * - `response`: an HTTP answer arrived (any status).
 * - `retry`: an attempt failed and another follows after `delayMs`.
 * - `token`: a new access token was obtained.
 * - `cache-hit`: a cached token was returned without any I/O.
 * - `refresh`: a new token is being fetched while one is cached: `due`
 *   (refresh time reached; the cached token is still served), `expired`
 *   (the cached token is no longer usable) or `forced`.
 * - `refresh-failed`: a background refresh failed; the cached token is still
 *   served and the next refresh is tried at `retryAt`.
 * - `rotation`: a changed certificate file was loaded.
 * - `rotation-failed`: a changed certificate file could not be loaded; the
 *   previous certificate stays in use.
 * - `store-…`: what the `tokenStore` reported (see `TokenStoreEvent`); its
 *   `message` redacted.
 */
export type TokenEvent =
  | {
      readonly type: 'request';
      readonly clientId: string;
      readonly endpoint: string;
      readonly scope: string;
      readonly attempt: number;
      /** Sent as `client-request-id`; Entra ID logs it and answers it back as `correlation_id`. */
      readonly requestId: string;
    }
  | {
      readonly type: 'response';
      readonly clientId: string;
      readonly endpoint: string;
      readonly scope: string;
      readonly attempt: number;
      readonly status: number;
      readonly durationMs: number;
    }
  | {
      readonly type: 'retry';
      readonly clientId: string;
      readonly endpoint: string;
      readonly scope: string;
      readonly attempt: number;
      readonly delayMs: number;
      readonly code: string;
      readonly status: number | undefined;
    }
  | {
      readonly type: 'token';
      readonly clientId: string;
      readonly endpoint: string;
      readonly scope: string;
      readonly expiresOnTimestamp: number;
      readonly refreshAfterTimestamp: number;
    }
  | { readonly type: 'cache-hit'; readonly clientId: string; readonly scope: string }
  | { readonly type: 'refresh'; readonly clientId: string; readonly scope: string; readonly reason: 'due' | 'expired' | 'forced' }
  | {
      readonly type: 'refresh-failed';
      readonly clientId: string;
      readonly scope: string;
      readonly code: string;
      readonly message: string;
      readonly retryAt: number;
    }
  | {
      readonly type: 'rotation';
      readonly clientId: string;
      readonly path: string;
      readonly previousThumbprint: string;
      readonly thumbprint: string;
      readonly notAfter: string;
    }
  | { readonly type: 'rotation-failed'; readonly clientId: string; readonly path: string; readonly code: string; readonly message: string }
  | {
      readonly type: TokenStoreEventType;
      readonly clientId: string;
      readonly scope: string;
      readonly code?: string;
      readonly message?: string;
      readonly waitedMs?: number;
    };

/** A function receiving every {@link TokenEvent}. Exceptions it throws are ignored. */
export type TokenLogger = (event: TokenEvent) => void;

type WithoutClientId<E> = E extends unknown ? Omit<E, 'clientId'> : never;

/** A {@link TokenEvent} without `clientId`, which the {@link EventSink} adds. */
export type EventInput = WithoutClientId<TokenEvent>;

const channel = diagnostics_channel.channel(TOKEN_DIAGNOSTICS_CHANNEL);

/** Where one credential's events go: its logger and the diagnostics channel. */
export class EventSink {
  readonly #clientId: string;
  readonly #logger: TokenLogger | undefined;

  constructor(clientId: string, logger: TokenLogger | undefined) {
    this.#clientId = clientId;
    this.#logger = logger;
  }

  /** Whether anyone listens; check it before building an event on a hot path. */
  get active(): boolean {
    return this.#logger !== undefined || channel.hasSubscribers;
  }

  emit(input: EventInput): void {
    if (!this.active) return;
    const event = Object.freeze({ ...input, clientId: this.#clientId }) as TokenEvent;
    try {
      this.#logger?.(event);
    } catch {
      // A failing logger must not fail token acquisition.
    }
    channel.publish(event);
  }
}
