import { Worker } from 'node:worker_threads';

/**
 * An EncryptedPrivateKeyInfo (RFC 5208 §6) decrypted by OpenSSL in a worker
 * thread of its own, so that its PKCS#12 KDF runs natively (RFC 7292
 * Appendix B; 5–10× faster than in JavaScript) and off the event loop.
 * The worker belongs to the call: `stop()` terminates it.
 */
export interface KeyWorker {
  /** The PrivateKeyInfo, DER; `undefined` when OpenSSL could not decrypt or read it. */
  readonly result: Promise<Buffer | undefined>;
  stop(): void;
}

const SOURCE = `const { workerData, parentPort } = require('node:worker_threads');
const { createPrivateKey } = require('node:crypto');
let der;
try { der = createPrivateKey({ key: workerData.key, format: 'der', type: 'pkcs8', passphrase: workerData.passphrase }).export({ format: 'der', type: 'pkcs8' }); } catch {}
parentPort.postMessage(der);`;

/** Decrypt `encryptedPkcs8` with the UTF-8 `passphrase` (OpenSSL turns it into the BMPString the KDF takes). */
export function decryptInWorker(encryptedPkcs8: Buffer, passphrase: Buffer): KeyWorker {
  const worker = new Worker(SOURCE, { eval: true, workerData: { key: encryptedPkcs8, passphrase } });
  const result = new Promise<Buffer | undefined>((resolve) => {
    worker.once('message', (der?: Uint8Array) => resolve(der && Buffer.from(der.buffer, der.byteOffset, der.byteLength)));
    worker.once('error', () => resolve(undefined));
    worker.once('exit', () => resolve(undefined));
  });
  return { result, stop: () => void worker.terminate() };
}
