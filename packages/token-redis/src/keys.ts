/**
 * Redis key names. One entry per token: the name is a SHA-256 of every field
 * of the {@link TokenStoreKey} (so no client id, scope or endpoint is readable
 * in a key listing, and two keys differing in any field never share an entry),
 * wrapped in a Redis Cluster hash tag so that an entry, its lock and its
 * throttling mark live in one slot (the Lua scripts touch them together).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { TokenStoreKey } from './contract.js';

/** The three Redis keys of one token. */
export interface KeyNames {
  /** The sealed token response. */
  readonly entry: string;
  /** The single-flight lock: a random owner id, with a TTL. */
  readonly lock: string;
  /** Present while the token endpoint asked this key to wait (`Retry-After`): the time it ends, ms since the epoch. */
  readonly throttle: string;
}

/** Bump when the entry format or the fields hashed change: old entries are then simply never read again. */
const FORMAT = 'v1';

/**
 * @param prefix - prepended to every name (e.g. `x-token:`); not secret
 * @param key - what makes two tokens interchangeable
 */
export function keyNames(prefix: string, key: TokenStoreKey): KeyNames {
  // JSON of a fixed-order array: unambiguous however the fields are spelled.
  const fields = [FORMAT, key.tokenEndpoint, key.clientId, key.scopes, key.certificateThumbprint ?? null, key.tokenType, key.partition ?? null];
  const hash = createHash('sha256').update(JSON.stringify(fields)).digest('base64url');
  const base = `${prefix}{${hash}}`;
  return { entry: base, lock: `${base}:lock`, throttle: `${base}:throttle` };
}
