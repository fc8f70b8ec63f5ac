/**
 * The token store seam: level 2 of a credential's token cache, shared between
 * processes (e.g. `@x/token-redis`) or between credentials of one process.
 *
 * Level 1, the in-process map of each credential, always comes first: a hit
 * there is a map look-up and never calls the store. The store is asked on a
 * level-1 miss, or when the level-1 token is due for refresh, with at most one
 * call in flight per key per store in a process. The cache keeps the policy
 * (when a token is fresh, when it is usable, single flight, throttling): a
 * store is told it through {@link TokenStoreRequest.isFresh} and
 * {@link TokenStoreRequest.isUsable} and never computes it.
 *
 * @module
 */
import type { TokenResponse } from './response.js';

export type { TokenResponse };

/** Everything that makes two tokens interchangeable; a store hashes it into its key name. */
export interface TokenStoreKey {
  /** The exact token endpoint URL. */
  readonly tokenEndpoint: string;
  readonly clientId: string;
  /** Normalised scopes (space-separated) or the v1 resource. */
  readonly scopes: string;
  /** `x5t#S256` of the client's certificate; `undefined` for other credentials. */
  readonly certificateThumbprint?: string;
  /** The token type asked for: `'Bearer'`, `'DPoP'` or `'mtls_pop'`. */
  readonly tokenType: string;
  /**
   * Anything else that separates tokens, else `undefined`: segments joined with `;` in this order — `cae` (tokens
   * asked for with `enableCae`), `mtls` (certificate-bound tokens, RFC 8705 §3, which stay typed `Bearer`),
   * `jkt=<thumbprint>` (a DPoP key). Another tenant needs no segment: its token
   * endpoint differs. A claims challenge is not a partition: its token replaces the one for the key.
   */
  readonly partition?: string;
}

/** What a store reports; see {@link TokenStoreEvent}. */
export type TokenStoreEventType =
  | 'store-hit'
  | 'store-miss'
  | 'store-lock-won'
  | 'store-lock-waited'
  | 'store-fallback'
  | 'store-decrypt-failed'
  | 'store-throttled'
  | 'store-error';

/**
 * One store event, published by the credential as a `TokenEvent` (logger and
 * the `x-token` diagnostics channel) with its `clientId`. Never a secret:
 * `message` is redacted by the credential before it is published.
 */
export interface TokenStoreEvent {
  readonly type: TokenStoreEventType;
  /** The scope key the event concerns. */
  readonly scope: string;
  readonly code?: string;
  readonly message?: string;
  /** Time spent waiting for another replica's request, milliseconds. */
  readonly waitedMs?: number;
}

/** One call of {@link TokenStore.lookup}. */
export interface TokenStoreRequest {
  readonly key: TokenStoreKey;
  /** The cache policy: may this stored response be served now without a refresh (before its refresh time and usable)? */
  readonly isFresh: (response: TokenResponse) => boolean;
  /** The cache policy: may it be served at all now (not within the expiry margin)? */
  readonly isUsable: (response: TokenResponse) => boolean;
  /** Make the token request (with `@x/token`'s retries, a fresh assertion per attempt). */
  readonly fetch: () => Promise<TokenResponse>;
  /**
   * Secret bytes every replica holding the same private key derives
   * identically, or `undefined` (an EC key, no certificate). For an RSA key:
   * the RS256 (RSASSA-PKCS1-v1_5, deterministic) signature over the ASCII
   * label `x-token-store-key-v1:` + `x5t#S256`; for Ed25519 the EdDSA
   * signature over the same label. A store derives its encryption key from
   * it (e.g. HKDF-SHA256 → AES-256-GCM).
   */
  readonly keyMaterial: () => Promise<Uint8Array | undefined>;
  /** Skip a stored token (the caller's token was refused, or a claims challenge); still store the new one. */
  readonly forceRefresh: boolean;
  readonly signal?: AbortSignal;
  readonly emit: (event: TokenStoreEvent) => void;
}

/** Level 2 of the token cache. Give one to a credential with the `tokenStore` option. */
export interface TokenStore {
  /**
   * Level 2 of the cache: called on a level-1 miss or when the level-1 token is due (at most one call in flight
   * per key per process). Resolves with a usable response found in the store (isFresh, or isUsable when a refresh
   * elsewhere is in progress) or obtained by calling request.fetch() (then stored). Rejects only with fetch()'s
   * error or a TokenRequestError (e.g. fleet-wide throttling: code 'ERR_THROTTLED' with retryAfterMs).
   * A store failure never rejects: the store falls back to request.fetch().
   */
  lookup(request: TokenStoreRequest): Promise<TokenResponse>;
  close?(): Promise<void>;
}
