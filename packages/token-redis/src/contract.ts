/**
 * The token store seam of `@x/token` (CONTRACTS.md), re-exported from one
 * place so the rest of this package imports it from here.
 *
 * @module
 */
export type {
  TokenStore,
  TokenStoreEvent,
  TokenStoreEventType,
  TokenStoreKey,
  TokenStoreRequest,
  TokenResponse,
} from './seam.js';
