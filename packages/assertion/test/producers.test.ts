/**
 * PKCS#12 files from producers other than the OpenSSL CLI defaults (issue 10):
 * a GnuTLS `certtool --null-password` file opens with no passphrase and with
 * `''` (as OpenSSL's PKCS12_parse), and a file without a MAC loads with
 * `integrity: 'none'` and is refused under `requireIntegrity`; BouncyCastle's
 * Ed25519 key bag, an RFC 5958 OneAsymmetricKey v2 with its publicKey, loads.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importX509, jwtVerify } from 'jose';
import forge from 'node-forge';
import { afterAll, describe, expect, it } from 'vitest';
import { createClientAssertion, loadCredential, loadCredentialFile } from '../src/index.js';
import { fingerprint, makePair, openssl } from './helpers/openssl.js';

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

describe('BouncyCastle Ed25519 (OneAsymmetricKey v2 with [1] publicKey, fixtures/producers/bc-ed25519.p12)', () => {
  const file = join(import.meta.dirname, 'fixtures', 'producers', 'bc-ed25519.p12');
  const certPath = join(pair.dir, 'bc-cert.pem');
  openssl(['pkcs12', '-in', file, '-legacy', '-nokeys', '-passin', 'pass:bc-secret', '-out', certPath]);

  it('loads; the thumbprints are openssl x509 -fingerprint; its assertion verifies with jose', async () => {
    const credential = await loadCredentialFile(file, { passphrase: 'bc-secret' });
    expect(credential.thumbprints.sha1Hex).toBe(fingerprint(certPath, 'sha1'));
    expect(credential.thumbprints.sha256Hex).toBe(fingerprint(certPath, 'sha256'));
    const jwt = await createClientAssertion(credential, { clientId: 'c', audience: 'https://as.example/token' });
    const { payload, protectedHeader } = await jwtVerify(jwt, await importX509(openssl(['x509', '-in', certPath]), 'EdDSA'), { audience: 'https://as.example/token' });
    expect(protectedHeader.alg).toBe('EdDSA');
    expect(payload.iss).toBe('c');
  });
});

describe('an Ed25519 key bag as OneAsymmetricKey v2 (openssl key, re-encoded with node-forge)', () => {
  const ed = makePair('ed25519', '/CN=x-assertion v2');
  const other = makePair('ed25519', '/CN=x-assertion other');
  afterAll(() => [ed, other].forEach((p) => p.cleanup()));

  /** A -nomac PFX with an unencrypted key bag, its PrivateKeyInfo made v2 with `publicKeyOf`'s key as [1]. */
  function v2Pfx(publicKeyOf: typeof ed): Buffer {
    const file = join(ed.dir, 'plain.p12');
    openssl(['pkcs12', '-export', '-in', ed.certPath, '-inkey', ed.keyPath, '-nomac', '-keypbe', 'NONE', '-certpbe', 'NONE', '-passout', 'pass:', '-out', file]);
    const { asn1 } = forge;
    const spki = asn1.fromDer(execFileSync('openssl', ['pkey', '-in', publicKeyOf.keyPath, '-pubout', '-outform', 'DER']).toString('binary'), { decodeBitStrings: false });
    const root = asn1.fromDer(readFileSync(file).toString('binary'));
    const authSafeOctets = ((root.value[1] as forge.asn1.Asn1).value[1] as forge.asn1.Asn1).value[0] as forge.asn1.Asn1;
    const authSafe = asn1.fromDer(authSafeOctets.value as string);
    for (const info of authSafe.value as forge.asn1.Asn1[]) {
      const dataOctets = (info.value[1] as forge.asn1.Asn1).value[0] as forge.asn1.Asn1;
      const safeContents = asn1.fromDer(dataOctets.value as string);
      for (const bag of safeContents.value as forge.asn1.Asn1[]) {
        if (asn1.derToOid((bag.value[0] as forge.asn1.Asn1).value as string) !== forge.pki.oids.keyBag) continue;
        const key = (bag.value[1] as forge.asn1.Asn1).value[0] as forge.asn1.Asn1;
        (key.value[0] as forge.asn1.Asn1).value = '\x01';
        (key.value as forge.asn1.Asn1[]).push(asn1.create(asn1.Class.CONTEXT_SPECIFIC, 1, false, (spki.value[1] as forge.asn1.Asn1).value as string));
      }
      dataOctets.value = asn1.toDer(safeContents).getBytes();
    }
    authSafeOctets.value = asn1.toDer(authSafe).getBytes();
    return Buffer.from(asn1.toDer(root).getBytes(), 'binary');
  }

  it('loads when the publicKey is the private key\'s; the same key as openssl wrote it', async () => {
    const credential = await loadCredential({ pfx: v2Pfx(ed) });
    expect(credential.thumbprints.sha256Hex).toBe(ed.sha256Hex);
  });

  it('refuses another key\'s publicKey with ERR_KEY_MISMATCH', async () => {
    await expect(loadCredential({ pfx: v2Pfx(other) })).rejects.toMatchObject({ code: 'ERR_KEY_MISMATCH' });
  });
});
