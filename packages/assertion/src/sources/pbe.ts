import { createDecipheriv, createHmac, pbkdf2 as pbkdf2Callback } from 'node:crypto';
import { promisify } from 'node:util';
import { CredentialError } from '../errors.js';
import { forge } from './asn1.js';
import type { DerivationBudget } from './budget.js';
import { bmpPassword, digestSize, KdfPurpose, pkcs12Kdf, type DigestName } from './pkcs12-kdf.js';

/**
 * The password-based cryptography of PKCS#12, on parameters already parsed
 * and checked by `pbe-params.ts`: decryption (PBES2, RFC 8018 §6.2; PKCS#12 PBE,
 * RFC 7292 Appendix C) and MACs (RFC 7292 §4 with the Appendix B KDF;
 * PBMAC1, RFC 9579). Everything runs in `node:crypto` except RC2, which
 * Node 20's default OpenSSL provider lacks: only there is node-forge's cipher
 * used, with a key derived here.
 *
 * @module
 */

const pbkdf2 = promisify(pbkdf2Callback);

/** A candidate password in the two encodings PKCS#12 uses. */
export interface Password {
  /** UTF-8 bytes, for PBKDF2 (what OpenSSL 3 feeds it; RFC 9579 §3) and for OpenSSL. */
  readonly utf8: Buffer;
  /** BMPString with its zero terminator, for the PKCS#12 KDF (RFC 7292 Appendix B.1). */
  readonly bmp: Buffer;
}

/** `text === undefined` is the absent password: empty in both encodings. */
export function toPassword(text: string | undefined): Password {
  return { utf8: Buffer.from(text ?? '', 'utf8'), bmp: bmpPassword(text) };
}

/** Block ciphers in CBC mode, by `node:crypto` name. */
export type CbcCipher = 'aes-128-cbc' | 'aes-192-cbc' | 'aes-256-cbc' | 'des-ede3-cbc';

/** Key and IV lengths of the CBC ciphers, in bytes. */
export const CBC_CIPHERS: Readonly<Record<CbcCipher, { keyLength: number; ivLength: number }>> = {
  'aes-128-cbc': { keyLength: 16, ivLength: 16 },
  'aes-192-cbc': { keyLength: 24, ivLength: 16 },
  'aes-256-cbc': { keyLength: 32, ivLength: 16 },
  'des-ede3-cbc': { keyLength: 24, ivLength: 8 },
};

/** PBKDF2 parameters (RFC 8018 §5.2, Appendix A.2). */
export interface Pbkdf2Params {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly prf: DigestName;
}

/** PBES2 with PBKDF2 and a CBC cipher (RFC 8018 §6.2, Appendix B.2). */
export interface Pbes2Params {
  readonly scheme: 'pbes2';
  readonly kdf: Pbkdf2Params;
  readonly cipher: CbcCipher;
  readonly iv: Buffer;
}

/** Ciphers of the PKCS#12 PBE schemes (RFC 7292 Appendix C) that this package decrypts. */
export type Pkcs12PbeCipher = '3des' | '2des' | 'rc2-128' | 'rc2-40';

const PKCS12_PBE_CIPHERS: Readonly<Record<Pkcs12PbeCipher, { keyLength: number; decrypt: CbcDecrypt }>> = {
  '3des': { keyLength: 24, decrypt: nodeCbc('des-ede3-cbc') },
  '2des': { keyLength: 16, decrypt: nodeCbc('des-ede-cbc') },
  'rc2-128': { keyLength: 16, decrypt: rc2Cbc(128) },
  'rc2-40': { keyLength: 5, decrypt: rc2Cbc(40) },
};

/** A PKCS#12 PBE scheme: SHA-1 PKCS#12 KDF for key and IV, then a CBC cipher (RFC 7292 Appendix C). */
export interface Pkcs12PbeParams {
  readonly scheme: 'pkcs12-pbe';
  readonly cipher: Pkcs12PbeCipher;
  readonly salt: Buffer;
  readonly iterations: number;
}

export type EncryptionParams = Pbes2Params | Pkcs12PbeParams;

/** Derivations a decryption runs: PKCS#12 PBE derives its key and its IV apart (RFC 7292 Appendix B.3). */
export function derivations(params: { readonly scheme: string }): number {
  return params.scheme === 'pkcs12-pbe' ? 2 : 1;
}

/**
 * Thrown when a ciphertext does not decrypt under a password (bad padding):
 * a wrong password, told apart from malformed input by the caller.
 */
export class DecryptionFailed extends Error {}

/**
 * Decrypt `ciphertext` with a password-based scheme: PBES2 (RFC 8018 §6.2.2,
 * key from PBKDF2 over the UTF-8 password) or PKCS#12 PBE (RFC 7292
 * Appendix C, key and IV from the SHA-1 PKCS#12 KDF over the BMPString
 * password, Appendix B.3). The caller has checked the iteration count; each
 * derivation is counted in `budget` before it runs, key then IV.
 *
 * @throws {@link DecryptionFailed} when the padding is wrong (almost always a wrong password);
 *   {@link CredentialError} `ERR_MALFORMED` when the ciphertext is not whole blocks, `ERR_ITERATION_LIMIT` when `budget` is spent
 */
export async function decrypt(params: EncryptionParams, ciphertext: Buffer, password: Password, budget: DerivationBudget): Promise<Buffer> {
  const blockSize = params.scheme === 'pbes2' ? CBC_CIPHERS[params.cipher].ivLength : 8; // in CBC the IV is one block
  if (ciphertext.length === 0 || ciphertext.length % blockSize !== 0) {
    throw new CredentialError('ERR_MALFORMED', `The PKCS#12 file is malformed: a ciphertext of ${ciphertext.length} bytes is not whole ${blockSize}-byte blocks.`);
  }
  if (params.scheme === 'pbes2') {
    const { kdf, cipher, iv } = params;
    budget.spend();
    const key = await pbkdf2(password.utf8, kdf.salt, kdf.iterations, CBC_CIPHERS[cipher].keyLength, kdf.prf);
    return runWithKey(key, () => nodeCbc(cipher)(key, iv, ciphertext));
  }
  const { cipher, salt, iterations } = params;
  const { keyLength, decrypt: cbc } = PKCS12_PBE_CIPHERS[cipher];
  budget.spend(2);
  const key = await pkcs12Kdf('sha1', password.bmp, salt, KdfPurpose.key, iterations, keyLength);
  const iv = await pkcs12Kdf('sha1', password.bmp, salt, KdfPurpose.iv, iterations, 8);
  return runWithKey(key, () => cbc(key, iv, ciphertext));
}

/** Run `fn`, then zero the key. */
function runWithKey<T>(key: Buffer, fn: () => T): T {
  try {
    return fn();
  } finally {
    key.fill(0);
  }
}

type CbcDecrypt = (key: Buffer, iv: Buffer, ciphertext: Buffer) => Buffer;

/** CBC decryption with PKCS#7 padding by `node:crypto`. */
function nodeCbc(name: string): CbcDecrypt {
  return (key, iv, ciphertext) => {
    const decipher = createDecipheriv(name, key, iv);
    try {
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      throw new DecryptionFailed();
    }
  };
}

/**
 * RC2-CBC (RFC 2268) with `effectiveBits` effective key bits, by node-forge's
 * cipher; the PKCS#7 padding is checked here, strictly.
 */
function rc2Cbc(effectiveBits: number): CbcDecrypt {
  return (key, iv, ciphertext) => {
    const cipher = forge().rc2.createDecryptionCipher(key.toString('latin1'), effectiveBits);
    cipher.start(iv.toString('latin1'));
    cipher.update(forge().util.createBuffer(ciphertext.toString('latin1')));
    if (!cipher.finish(() => true)) throw new DecryptionFailed(); // `() => true`: leave the padding to us
    return removePadding(Buffer.from(cipher.output.getBytes(), 'latin1'), 8);
  };
}

/** Strip PKCS#7 padding (RFC 5652 §6.3), checking every padding byte. */
function removePadding(plaintext: Buffer, blockSize: number): Buffer {
  const n = plaintext.at(-1) ?? 0;
  if (n < 1 || n > blockSize || n > plaintext.length) throw new DecryptionFailed();
  if (plaintext.subarray(plaintext.length - n).some((byte) => byte !== n)) throw new DecryptionFailed();
  return plaintext.subarray(0, plaintext.length - n);
}

/** The classic PKCS#12 MAC: HMAC keyed by the PKCS#12 KDF (RFC 7292 §4, Appendix B.4). */
export interface Pkcs12MacParams {
  readonly scheme: 'pkcs12-kdf';
  readonly digest: DigestName;
  readonly salt: Buffer;
  readonly iterations: number;
}

/** PBMAC1 with PBKDF2 (RFC 9579 §3, RFC 8018 §7.1). */
export interface Pbmac1Params {
  readonly scheme: 'pbmac1';
  readonly kdf: Pbkdf2Params;
  /** PBKDF2 output length: the HMAC key length. */
  readonly keyLength: number;
  readonly hmac: DigestName;
}

export type MacParams = Pkcs12MacParams | Pbmac1Params;

/**
 * Compute the MAC over a PKCS#12 file's AuthenticatedSafe: HMAC keyed by the
 * PKCS#12 KDF (ID 3, BMPString password; RFC 7292 §4, Appendix B.4), or by
 * PBKDF2 (UTF-8 password) for PBMAC1 (RFC 9579 §3, RFC 8018 §7.1), counted in `budget`.
 *
 * @throws {@link CredentialError} `ERR_ITERATION_LIMIT` when `budget` is spent
 */
export async function computeMac(params: MacParams, password: Password, data: Buffer, budget: DerivationBudget): Promise<Buffer> {
  budget.spend();
  const key = params.scheme === 'pbmac1' ? await pbkdf2(password.utf8, params.kdf.salt, params.kdf.iterations, params.keyLength, params.kdf.prf) : await pkcs12Kdf(params.digest, password.bmp, params.salt, KdfPurpose.mac, params.iterations, digestSize(params.digest));
  const digest = params.scheme === 'pbmac1' ? params.hmac : params.digest;
  return runWithKey(key, () => createHmac(digest, key).update(data).digest());
}
