/**
 * The PKCS#12 KDF's hash chains in a worker (sources/hash-chain.ts): the same
 * bytes as on the calling thread and as `openssl kdf PKCS12KDF`, and on the
 * calling thread again when the worker is gone.
 */
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { startChainWorker } from '../src/sources/hash-chain.js';
import { bmpPassword, digestSize, KdfPurpose, pkcs12Kdf, type DigestName } from '../src/sources/pkcs12-kdf.js';
import { openssl } from './helpers/openssl.js';

const password = bmpPassword('s3cret');
const salt = Buffer.from('0011223344556677', 'hex');

function opensslKdf(digest: DigestName, iterations: number, length: number): string {
  const args = ['kdf', '-keylen', String(length), '-kdfopt', `digest:${digest}`, '-kdfopt', `hexpass:${password.toString('hex')}`, '-kdfopt', `hexsalt:${salt.toString('hex')}`, '-kdfopt', `iter:${iterations}`, '-kdfopt', 'id:1', 'PKCS12KDF'];
  return openssl(args).trim().replaceAll(':', '').toLowerCase();
}

describe('hash chains in a worker', () => {
  const worker = startChainWorker();
  afterAll(() => worker.stop());

  it('compress there: one step is SHA-1 of the padded block\'s first 20 bytes', async () => {
    const a = createHash('sha1').update('abc').digest();
    const block = Buffer.alloc(64);
    block.set(a);
    block[20] = 0x80;
    block.writeUInt32BE(160, 60);
    expect(await worker.compress('sha1', block, 20, 1)).toBe(true);
    expect(block.subarray(0, 20).toString('hex')).toBe(createHash('sha1').update(a).digest('hex'));
  });

  it('derive what OpenSSL derives, for SHA-1 and SHA-512, several chains in turn', async () => {
    for (const digest of ['sha1', 'sha512'] as const) {
      for (const iterations of [2, 1000]) {
        const length = digestSize(digest) + 4; // two chains
        const ours = await pkcs12Kdf(digest, password, salt, KdfPurpose.key, iterations, length, worker);
        expect(ours.toString('hex'), `${digest} × ${iterations}`).toBe(opensslKdf(digest, iterations, length));
      }
    }
  });

  it('run here when the worker has stopped', async () => {
    const stopped = startChainWorker();
    stopped.stop();
    expect(await stopped.compress('sha1', Buffer.alloc(64), 20, 10)).toBe(false);
    const ours = await pkcs12Kdf('sha1', password, salt, KdfPurpose.key, 1000, 24, stopped);
    expect(ours.toString('hex')).toBe(opensslKdf('sha1', 1000, 24));
  });
});
