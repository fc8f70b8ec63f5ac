import { createRequire } from 'node:module';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { DigestName } from './pkcs12-kdf.js';

/**
 * The inner loop of the PKCS#12 KDF, A = H^r(D || I) (RFC 7292 Appendix
 * B.2 step 6a). From the second application on, H(A) of a u-byte A is one
 * block: A, the 0x80 end marker, zeros and A's length in bits (FIPS 180-4
 * §5.1), compressed from the initial state, whose first u bytes are the next
 * A (§6). So each iteration is one call of `@noble/hashes`' compression
 * function on one preformatted block: no padding, allocation nor native call
 * (1.8× faster than its `update`/`digestInto`, 3–6× faster than `node:crypto`'s
 * hashes on 20-byte inputs). A chain runs on the calling thread, yielding to
 * the event loop every few milliseconds, or in a worker the caller owns, so
 * that independent chains run on two cores.
 *
 * @module
 */

/** A `@noble/hashes` digest: one-shot, `create()`, `outputLen` (the KDF's u) and `blockLen` (its v), in bytes. */
export interface Digest {
  (message: Uint8Array): Uint8Array;
  create(): object;
  readonly outputLen: number;
  readonly blockLen: number;
}

/**
 * The compression function of a `@noble/hashes` Merkle-Damgård hash (FIPS 180-4
 * §6): the chaining state as 32-bit words (`get`, `set`, big-endian halves for
 * SHA-384/512), `process`, which compresses one block into it, and
 * `roundClean`, which wipes the shared message schedule. Protected members of
 * its `HashMD` class, not public API: the package is pinned to one version,
 * and `test/pfx.test.ts` checks that version and the output against OpenSSL.
 */
interface Compression {
  get(): number[];
  set(...words: number[]): void;
  process(block: DataView, offset: number): void;
  roundClean(): void;
}

/** Longest stretch of hashing on the calling thread, in milliseconds, between two yields to the event loop. */
const SLICE_MS = 6;

/** Iterations from which a chain is worth a worker: about as long as starting one (tens of milliseconds). */
export const OFF_THREAD_ITERATIONS = 100_000;

/**
 * H applied `iterations` (≥ 1) times to `input`: in `worker` if given (here if it failed), else here.
 *
 * @param name - the digest's name, for the worker
 */
export async function iterateHash(H: Digest, name: DigestName, input: Uint8Array, iterations: number, worker?: ChainWorker): Promise<Buffer> {
  const { outputLen: u, blockLen: v } = H;
  const block = Buffer.alloc(v);
  block.set(H(input));
  block[u] = 0x80;
  block.writeUInt32BE(u * 8, v - 4);
  const count = iterations - 1;
  if (!(await worker?.compress(name, block, u, count))) await compressHere(H, block, u, count);
  const a = Buffer.from(block.subarray(0, u));
  block.fill(0);
  return a;
}

/** `count` times A = H(A) on the padded `block`. Closes over nothing: its source is also the worker's. */
function compress(hash: Compression, initial: readonly number[], block: DataView, u: number, count: number): void {
  for (let i = 0; i < count; i++) {
    hash.set(...initial);
    hash.process(block, 0);
    const words = hash.get();
    for (let w = 0; w < u / 4; w++) block.setUint32(4 * w, words[w]!);
  }
}

/** {@link compress} on this thread, yielding to the event loop every {@link SLICE_MS}. */
async function compressHere(H: Digest, block: Buffer, u: number, count: number): Promise<void> {
  const hash = H.create() as Compression;
  const [initial, view] = [hash.get(), new DataView(block.buffer, block.byteOffset, block.length)];
  let sliceStart = performance.now();
  for (let done = 0; done < count; done += 64) {
    compress(hash, initial, view, u, Math.min(64, count - done));
    if (performance.now() - sliceStart > SLICE_MS) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
  hash.roundClean();
}

const SOURCE = `const { workerData: urls, parentPort } = require('node:worker_threads');
const compress = ${compress.toString()};
const hashes = Promise.all(urls.map((url) => import(url))).then((modules) => Object.assign({}, ...modules));
parentPort.on('message', async ({ name, block, u, count }) => {
  const hash = (await hashes)[name].create();
  compress(hash, hash.get(), new DataView(block.buffer, block.byteOffset, block.byteLength), u, count);
  hash.roundClean();
  parentPort.postMessage(block);
});`;

/** See {@link startChainWorker}. */
export interface ChainWorker {
  /** {@link compress} in the worker, `block` then updated; `false` when the worker has failed or stopped. */
  compress(name: DigestName, block: Buffer, u: number, count: number): Promise<boolean>;
  stop(): void;
}

/**
 * Start a worker thread that runs hash chains, one after another, as they are asked for. Started ahead of
 * need, its start-up (tens of milliseconds) overlaps the caller's other work. It belongs to the caller:
 * `stop()` terminates it.
 */
export function startChainWorker(): ChainWorker {
  // Taken on first use (node:worker_threads is not needed to load a PEM file, nor for a cold start).
  const { Worker } = process.getBuiltinModule('node:worker_threads');
  const resolve = createRequire(import.meta.url).resolve;
  const urls = ['@noble/hashes/legacy.js', '@noble/hashes/sha2.js'].map((module) => pathToFileURL(resolve(module)).href);
  const worker = new Worker(SOURCE, { eval: true, workerData: urls });
  const waiting: ((out: Uint8Array | undefined) => void)[] = [];
  let alive = true;
  const fail = () => {
    alive = false;
    for (const answer of waiting.splice(0)) answer(undefined);
  };
  worker.on('message', (out: Uint8Array) => waiting.shift()?.(out));
  worker.once('error', fail);
  worker.once('exit', fail);
  return {
    compress: (name, block, u, count) =>
      new Promise((done) => {
        if (!alive) return done(false);
        waiting.push((out) => {
          if (out) block.set(out);
          done(out !== undefined);
        });
        worker.postMessage({ name, block, u, count });
      }),
    stop: () => void worker.terminate(),
  };
}
