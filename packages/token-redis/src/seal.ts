/**
 * Encryption at rest: a stored token response is readable only by holders of
 * the credential. AES-256-GCM (`node:crypto`, NIST SP 800-38D) with a random
 * 96-bit IV per entry and the Redis key name plus the visible expiry as
 * associated data, so an entry copied under another key name, or with its
 * expiry edited, fails authentication.
 *
 * The stored value is `v1.<expiresOnTimestamp>.<iv hex>.<ciphertext+tag hex>`:
 * the expiry stays readable so the "never replace a newer token" Lua script
 * can compare it; hex (not base64) so no stored byte sequence can look like a
 * JWT. The key is the `encryptionKey` option or HKDF-SHA256 (RFC 5869) of the
 * credential's key material, which every replica holding the same private key
 * derives identically and a Redis reader without it cannot.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { TokenResponse } from './contract.js';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Size of an AES-256 key: the `encryptionKey` option must have exactly this many bytes. */
export const ENCRYPTION_KEY_BYTES = 32;
/** HKDF `info`: binds the derived key to this use (RFC 5869 §3.2). */
const HKDF_INFO = 'x-token-redis/aes-256-gcm/v1';
/** HKDF salt: fixed and public (RFC 5869 §3.1 allows it); the material is already a high-entropy signature. */
const HKDF_SALT = 'x-token-redis';

/**
 * The AES-256 key from a credential's key material (RFC 5869 HKDF-SHA256).
 *
 * @param material - secret bytes from `TokenStoreRequest.keyMaterial()`
 * @returns 32 bytes
 */
export function deriveEncryptionKey(material: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', material, HKDF_SALT, HKDF_INFO, ENCRYPTION_KEY_BYTES));
}

function aad(name: string, expiresOn: number): Buffer {
  return Buffer.from(`${name}.${VERSION}.${expiresOn}`, 'utf8');
}

/**
 * Seals `response` for the Redis key `name`.
 *
 * @returns the value to store (ASCII)
 */
export function seal(key: Uint8Array, name: string, response: TokenResponse): string {
  const expiresOn = Math.floor(response.expiresOnTimestamp);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(name, expiresOn));
  const body = Buffer.concat([cipher.update(JSON.stringify(response), 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${VERSION}.${expiresOn}.${iv.toString('hex')}.${body.toString('hex')}`;
}

/** The expiry a stored value claims (ms since the epoch), without decrypting it; `undefined` when the value is not ours. */
export function sealedExpiry(value: string): number | undefined {
  const match = /^v1\.(\d{1,16})\./.exec(value);
  return match === null ? undefined : Number(match[1]);
}

/**
 * Opens a value written by {@link seal} under the same key and name.
 *
 * @returns the token response, or `undefined` when the value is malformed,
 *   tampered with, moved from another key name, or sealed with another key
 */
export function open(key: Uint8Array, name: string, value: string): TokenResponse | undefined {
  const parts = value.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION || !/^\d{1,16}$/.test(parts[1]!)) return undefined;
  const expiresOn = Number(parts[1]);
  const iv = Buffer.from(parts[2]!, 'hex');
  const body = Buffer.from(parts[3]!, 'hex');
  if (iv.length !== IV_BYTES || body.length <= TAG_BYTES || body.length * 2 !== parts[3]!.length) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(name, expiresOn));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    const plain = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
    const response = JSON.parse(plain.toString('utf8')) as TokenResponse;
    // Authenticated, so written by this package; still check the fields the cache relies on.
    const ok =
      typeof response.accessToken === 'string' &&
      response.accessToken.length > 0 &&
      Math.floor(response.expiresOnTimestamp) === expiresOn &&
      Number.isFinite(response.expiresIn) &&
      response.tokenType === 'Bearer';
    return ok ? Object.freeze(response) : undefined;
  } catch {
    return undefined; // authentication failure: never served
  }
}
