/**
 * PKCS#12 files from producers other than the OpenSSL CLI defaults (issue 10):
 * a GnuTLS `certtool --null-password` file opens with no passphrase and with
 * `''` (as OpenSSL's PKCS12_parse), and a file without a MAC loads with
 * `integrity: 'none'` and is refused under `requireIntegrity`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCredential, loadCredentialFile } from '../src/index.js';
import { makePair, openssl } from './helpers/openssl.js';

const pair = makePair('rsa', '/CN=x-assertion producers');
afterAll(() => pair.cleanup());

const certtool = spawnSync('certtool', ['--version'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!certtool)('GnuTLS certtool --null-password', () => {
  const file = join(pair.dir, 'null-password.p12');
  execFileSync('certtool', ['--to-p12', '--load-certificate', pair.certPath, '--load-privkey', pair.keyPath, '--null-password', '--p12-name', 'x', '--outder', '--outfile', file], { stdio: 'ignore' });

  it.each([['no passphrase', {}], ["passphrase ''", { passphrase: '' }]])('opens with %s, the leaf openssl names, integrity mac', async (_, options) => {
    const credential = await loadCredentialFile(file, options);
    expect(credential.thumbprints.sha1Hex).toBe(pair.sha1Hex);
    expect(credential.thumbprints.sha256Hex).toBe(pair.sha256Hex);
    expect(credential.integrity).toBe('mac');
  });

  it('a wrong passphrase is still ERR_BAD_PASSPHRASE', async () => {
    await expect(loadCredentialFile(file, { passphrase: 'wrong' })).rejects.toMatchObject({ code: 'ERR_BAD_PASSPHRASE' });
  });
});

describe('a PFX without a MAC (openssl pkcs12 -export -nomac, unencrypted bags)', () => {
  const file = join(pair.dir, 'nomac.p12');
  openssl(['pkcs12', '-export', '-in', pair.certPath, '-inkey', pair.keyPath, '-nomac', '-keypbe', 'NONE', '-certpbe', 'NONE', '-passout', 'pass:', '-out', file]);
  const pfx = readFileSync(file);

  it("loads with integrity 'none' (any passphrase opens it: nothing vouches for its contents)", async () => {
    for (const passphrase of [undefined, 'anything']) {
      const credential = await loadCredential(passphrase === undefined ? { pfx } : { pfx, passphrase });
      expect(credential.integrity).toBe('none');
      expect(credential.thumbprints.sha256Hex).toBe(pair.sha256Hex);
    }
  });

  it('requireIntegrity refuses it with ERR_NO_INTEGRITY; a MAC-protected file passes', async () => {
    await expect(loadCredential({ pfx }, { requireIntegrity: true })).rejects.toMatchObject({ code: 'ERR_NO_INTEGRITY' });
    const protectedFile = join(pair.dir, 'mac.p12');
    openssl(['pkcs12', '-export', '-in', pair.certPath, '-inkey', pair.keyPath, '-passout', 'env:PW', '-out', protectedFile], { PW: 'pw' });
    const credential = await loadCredentialFile(protectedFile, { passphrase: 'pw', requireIntegrity: true });
    expect(credential.integrity).toBe('mac');
  });
});
