/**
 * The token store seam of `@x/token`, re-exported from one place so the rest
 * of this package imports it from here.
 *
 * @module
 */
export type { TokenResponse, TokenStore, TokenStoreEvent, TokenStoreEventType, TokenStoreKey, TokenStoreRequest } from '@x/token';
