import { iterateHash, type ChainWorker } from './hash-chain.js';

/**
 * The PKCS#12 key-derivation function (RFC 7292 Appendix B.2), hashed with
 * `@noble/hashes` (see `hash-chain.ts`), so that a 600,000-iteration derivation
 * never blocks the event loop for more than a few milliseconds at a time.
 *
 * @module
 */

/**
 * Digests the KDF runs with; their `outputLen` is the KDF's `u`, their `blockLen` its `v`, in bytes.
 * Loaded on the first derivation, so that a PEM load (and a cold start) does not load `@noble/hashes`.
 */
async function digests() {
  const [{ sha1 }, { sha224, sha256, sha384, sha512 }] = await Promise.all([import('@noble/hashes/legacy.js'), import('@noble/hashes/sha2.js')]);
  return { sha1, sha224, sha256, sha384, sha512 };
}

/** Output size of each digest in bytes (FIPS 180-4). */
const OUTPUT_BYTES = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 } as const;

/** A digest name as `node:crypto` spells it. */
export type DigestName = keyof typeof OUTPUT_BYTES;

/** Output size of a digest in bytes. */
export function digestSize(digest: DigestName): number {
  return OUTPUT_BYTES[digest];
}

/** The diversifier `ID` of RFC 7292 Appendix B.3: what the derived bytes are for. */
export const KdfPurpose = { key: 1, iv: 2, mac: 3 } as const;
export type KdfPurpose = (typeof KdfPurpose)[keyof typeof KdfPurpose];

/**
 * The password as the PKCS#12 KDF takes it (RFC 7292 Appendix B.1): a
 * BMPString (UTF-16 big-endian) followed by two zero bytes. An absent password
 * is the empty byte string, which differs from `""` (`00 00`).
 */
export function bmpPassword(passphrase: string | undefined): Buffer {
  if (passphrase === undefined) return Buffer.alloc(0);
  return Buffer.from(`${passphrase}\0`, 'utf16le').swap16();
}

/**
 * Derive `length` bytes with the PKCS#12 KDF (RFC 7292 Appendix B.2).
 *
 * The caller checks `iterations` against its cap before calling.
 *
 * @param digest - the hash function H
 * @param password - the password bytes, see {@link bmpPassword}
 * @param salt - the salt S
 * @param purpose - the diversifier ID: key material, IV or MAC key (Appendix B.3)
 * @param iterations - the iteration count r (at least 1)
 * @param length - n, the number of bytes wanted
 * @param worker - where to run the hash chains (see `hash-chain.ts`), so that the caller can derive
 *   something else here meanwhile; here when absent
 */
export async function pkcs12Kdf(
  digest: DigestName,
  password: Uint8Array,
  salt: Uint8Array,
  purpose: KdfPurpose,
  iterations: number,
  length: number,
  worker?: ChainWorker,
): Promise<Buffer> {
  // No process-wide queue: each load's derivations belong to that load, and
  // yield to the event loop often, so concurrent loads interleave fairly.
  const H = (await digests())[digest];
  const { outputLen: u, blockLen: v } = H;
  const D = Buffer.alloc(v, purpose); // step 1
  const I = Buffer.concat([fill(salt, v), fill(password, v)]); // steps 2-4
  const blocks: Buffer[] = [];
  for (let produced = 0; produced < length; produced += u) {
    // step 6a: A_i = H^r(D || I)
    const A = await iterateHash(H, digest, Buffer.concat([D, I]), iterations, worker);
    blocks.push(A);
    // steps 6b-6c: I_j = (I_j + B + 1) mod 2^(8v), B = A_i repeated to v bytes
    if (produced + u < length) addToEachBlock(I, fill(A, v), v);
  }
  I.fill(0);
  return Buffer.concat(blocks).subarray(0, length); // steps 7-8
}

/**
 * Concatenate copies of `bytes` into a string of v·⌈len/v⌉ bytes, the last copy
 * truncated (steps 2-3); the empty string stays empty.
 */
function fill(bytes: Uint8Array, v: number): Buffer {
  const out = Buffer.alloc(v * Math.ceil(bytes.length / v));
  for (let at = 0; at < out.length; at += bytes.length) out.set(bytes.subarray(0, out.length - at), at);
  return out;
}

/** Treat `I` as v-byte big-endian integers and replace each I_j by (I_j + B + 1) mod 2^(8v), in place. */
function addToEachBlock(I: Buffer, B: Buffer, v: number): void {
  for (let j = 0; j < I.length; j += v) {
    let carry = 1;
    for (let k = v - 1; k >= 0; k--) {
      const sum = I[j + k]! + B[k]! + carry;
      I[j + k] = sum & 0xff;
      carry = sum >>> 8;
    }
  }
}
