/**
 * Stand-in declarations of the `@x/token` store seam (CONTRACTS.md, exact
 * names), used until `@x/token` exports them; then `contract.ts` imports them
 * from `@x/token` and this file goes.
 *
 * @internal
 * @module
 */
import type { TokenResponse } from '@x/token';

export type { TokenResponse };

export interface TokenStoreKey {
  readonly tokenEndpoint: string;
  readonly clientId: string;
  readonly scopes: string;
  readonly certificateThumbprint?: string;
  readonly tokenType: string;
  readonly partition?: string;
}
export type TokenStoreEventType =
  | 'store-hit'
  | 'store-miss'
  | 'store-lock-won'
  | 'store-lock-waited'
  | 'store-fallback'
  | 'store-decrypt-failed'
  | 'store-throttled'
  | 'store-error';
export interface TokenStoreEvent {
  readonly type: TokenStoreEventType;
  readonly scope: string;
  readonly code?: string;
  readonly message?: string;
  readonly waitedMs?: number;
}
export interface TokenStoreRequest {
  readonly key: TokenStoreKey;
  readonly isFresh: (response: TokenResponse) => boolean;
  readonly isUsable: (response: TokenResponse) => boolean;
  readonly fetch: () => Promise<TokenResponse>;
  readonly keyMaterial: () => Promise<Uint8Array | undefined>;
  readonly forceRefresh: boolean;
  readonly signal?: AbortSignal;
  readonly emit: (event: TokenStoreEvent) => void;
}
export interface TokenStore {
  lookup(request: TokenStoreRequest): Promise<TokenResponse>;
  close?(): Promise<void>;
}
