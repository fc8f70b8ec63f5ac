/**
 * `@x/token-redis`: a fleet-wide token store for `@x/token` on Redis — one
 * token request per token lifetime per (endpoint, client, scopes) however many
 * processes share the Redis; tokens encrypted at rest; Redis never a single
 * point of failure.
 *
 * @packageDocumentation
 */
export { createRedisTokenStore, MAX_THROTTLE_MS, THROTTLED_CODE, type RedisTokenStoreOptions } from './store.js';
export { displayRedisUrl } from './redaction.js';
export { deriveEncryptionKey, ENCRYPTION_KEY_BYTES } from './seal.js';
export type { TokenStore, TokenStoreEvent, TokenStoreKey, TokenStoreRequest } from './contract.js';
