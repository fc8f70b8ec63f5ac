/**
 * Level 2 of the token cache, the storage side: asking a `TokenStore` on a
 * level-1 miss or when the level-1 token is due, with at most one call in
 * flight per key per store (credentials sharing a store in one process share
 * the call), and the key material a store encrypts with.
 *
 * The policy (fresh, usable) stays in `cache`; this module only passes it on.
 *
 * @module
 */
import { constants, sign, type KeyObject } from 'node:crypto';
import type { TokenResponse } from './response.js';
import type { TokenStore, TokenStoreKey, TokenStoreRequest } from './store.js';

/**
 * The calls in flight, per store, per key. Owned by the store object (a
 * `WeakMap` entry that goes with it); each entry lives as long as its call.
 */
const flights = new WeakMap<TokenStore, Map<string, Promise<TokenResponse>>>();

/**
 * Ask `store` for a token (see `TokenStore.lookup`), joining the call in
 * flight for the same key and store, if any. A response the store hands back
 * that the policy says is not usable is not served: the token is fetched.
 */
export function storeLookup(store: TokenStore, request: TokenStoreRequest): Promise<TokenResponse> {
  let perStore = flights.get(store);
  if (perStore === undefined) flights.set(store, (perStore = new Map()));
  const id = keyId(request.key);
  const inflight = perStore.get(id);
  if (inflight !== undefined) return inflight;
  const table = perStore;
  const call = store
    .lookup(request)
    .then((response) => {
      if (request.isUsable(response)) return response;
      request.emit({ type: 'store-fallback', scope: request.key.scopes, code: 'ERR_STORE_UNUSABLE', message: 'The store returned an unusable token.' });
      return request.fetch();
    })
    .finally(() => table.delete(id));
  table.set(id, call);
  return call;
}

/** One string per distinct key, all members in a fixed order. */
function keyId(key: TokenStoreKey): string {
  return JSON.stringify([key.tokenEndpoint, key.clientId, key.scopes, key.certificateThumbprint ?? null, key.tokenType, key.partition ?? null]);
}

/** The label signed into key material (the contract of `TokenStoreRequest.keyMaterial`). */
const KEY_MATERIAL_LABEL = 'x-token-store-key-v1:';

/** The parts of a certificate credential key material is made from. */
export interface KeyMaterialSource {
  readonly keyType: string;
  readonly thumbprints: { readonly 'x5t#S256': string };
  readonly privateKey: KeyObject;
}

/**
 * Key material every replica holding the same private key derives
 * identically: RSA → the RS256 (RSASSA-PKCS1-v1_5 with SHA-256, deterministic)
 * signature over `x-token-store-key-v1:` + `x5t#S256`; Ed25519 → the EdDSA
 * signature (deterministic, RFC 8032) over the same label; EC (randomised
 * ECDSA) → `undefined`.
 *
 * Signs with the credential's `KeyObject` through `node:crypto` until
 * `@x/assertion`'s `Signer` seam lands (then: `signer.sign(label, 'RS256')`,
 * so hardware keys work too).
 */
export function storeKeyMaterial(credential: KeyMaterialSource): Uint8Array | undefined {
  const label = Buffer.from(KEY_MATERIAL_LABEL + credential.thumbprints['x5t#S256'], 'ascii');
  if (credential.keyType === 'RSA') return sign('sha256', label, { key: credential.privateKey, padding: constants.RSA_PKCS1_PADDING });
  if (credential.keyType === 'Ed25519') return sign(null, label, credential.privateKey);
  return undefined;
}
