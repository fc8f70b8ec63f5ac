/**
 * One derivation budget per PFX load (issue 10, "PKCS#12 work bound"): every
 * derivation — key, IV and MAC, for every passphrase candidate — counts
 * against the load's budget, and a failing load leaves nothing running. The
 * files are written by the `openssl` CLI; the crafted ones repeat its
 * encrypted content with node-forge's ASN.1.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { afterAll, describe, expect, it } from 'vitest';
import { CredentialError } from '../src/errors.js';
import { DerivationBudget, MAX_DERIVATIONS } from '../src/sources/budget.js';
import { parsePfx } from '../src/sources/pfx.js';
import { DEFAULT_MAX_ITERATIONS } from '../src/sources/types.js';
import { makePair, openssl } from './helpers/openssl.js';

const limits = { maxIterations: DEFAULT_MAX_ITERATIONS };
const pair = makePair('ec-p256');
afterAll(() => pair.cleanup());

/** `openssl pkcs12 -export` with `args`, password `password`; the file's bytes. */
function exportPfx(name: string, password: string, args: string[]): Buffer {
  const file = join(pair.dir, `${name}.p12`);
  openssl(['pkcs12', '-export', '-in', pair.certPath, '-inkey', pair.keyPath, '-out', file, '-passout', `pass:${password}`, ...args]);
  return readFileSync(file);
}

/** The PFX with its AuthenticatedSafe's first ContentInfo repeated `count` times (no MAC: it would not match). */
function repeatFirstContent(pfx: Buffer, count: number): Buffer {
  const root = forge.asn1.fromDer(pfx.toString('binary'));
  const authSafeOctets = ((root.value[1] as forge.asn1.Asn1).value[1] as forge.asn1.Asn1).value[0] as forge.asn1.Asn1;
  const authSafe = forge.asn1.fromDer(authSafeOctets.value as string);
  authSafe.value = Array.from({ length: count }, () => (authSafe.value as forge.asn1.Asn1[])[0]!);
  authSafeOctets.value = forge.asn1.toDer(authSafe).getBytes();
  return Buffer.from(forge.asn1.toDer(root).getBytes(), 'binary');
}

/** Load with a budget of its own; the outcome and the derivations it started. */
async function load(pfx: Buffer, passphrase: string | undefined, budget = new DerivationBudget()) {
  const outcome = await parsePfx(pfx, passphrase, limits, budget).then(
    (contents) => contents,
    (error: unknown) => error,
  );
  return { outcome, spent: budget.spent };
}

function code(outcome: unknown): string | undefined {
  return outcome instanceof CredentialError ? outcome.code : undefined;
}

describe('one derivation budget per PFX load', () => {
  const aesCerts = exportPfx('aes-certs', 'secret', ['-nokeys', '-nomac', '-certpbe', 'AES-256-CBC']);
  const legacyCerts = exportPfx('3des-certs', 'secret', ['-nokeys', '-nomac', '-certpbe', 'PBE-SHA1-3DES']);

  it('16 encrypted contents and no passphrase: a typed error after one derivation per candidate', async () => {
    const crafted = repeatFirstContent(aesCerts, 16);
    const { outcome, spent } = await load(crafted, undefined);
    expect(code(outcome)).toBe('ERR_PASSPHRASE_REQUIRED');
    expect(spent).toBe(2); // the absent password and '': the first content refuses each
    expect(spent).toBeLessThanOrEqual(MAX_DERIVATIONS);
  });

  it('PKCS#12 PBE contents count key and IV: 8 fit, 9 are refused before any derivation', async () => {
    const eight = await load(repeatFirstContent(legacyCerts, 8), undefined);
    expect(code(eight.outcome)).toBe('ERR_PASSPHRASE_REQUIRED');
    expect(eight.spent).toBe(4);
    const nine = await load(repeatFirstContent(legacyCerts, 9), 'secret');
    expect(code(nine.outcome)).toBe('ERR_ITERATION_LIMIT');
    expect(nine.spent).toBe(0);
  });

  it('17 PBES2 contents are refused before any derivation', async () => {
    const { outcome, spent } = await load(repeatFirstContent(aesCerts, 17), 'secret');
    expect(code(outcome)).toBe('ERR_ITERATION_LIMIT');
    expect(spent).toBe(0);
  });

  describe('a legacy file (3DES key, RC2 certificates, classic MAC)', () => {
    const legacy = exportPfx('legacy', 'secret', ['-legacy']);

    it('the right passphrase: MAC, content key and IV, key-bag key and IV', async () => {
      const { outcome, spent } = await load(legacy, 'secret');
      expect(code(outcome)).toBeUndefined();
      expect(spent).toBe(5);
    });

    it('BouncyCastle\'s v2 Ed25519 key bag: OpenSSL\'s worker cannot read it, so it is decrypted here too, counted again', async () => {
      const bc = readFileSync(join(import.meta.dirname, 'fixtures', 'producers', 'bc-ed25519.p12'));
      const { outcome, spent } = await load(bc, 'bc-secret');
      expect(code(outcome)).toBeUndefined();
      expect(spent).toBe(7); // MAC 1, content 2, key bag 2 in the worker + 2 here
    });

    it('no passphrase: one MAC per candidate, nothing decrypted', async () => {
      const { outcome, spent } = await load(legacy, undefined);
      expect(code(outcome)).toBe('ERR_PASSPHRASE_REQUIRED');
      expect(spent).toBe(2);
    });

    it('the second candidate spends from the same budget, and the load stops when it runs out', async () => {
      const emptyPassword = exportPfx('legacy-empty', '', ['-legacy']);
      expect(code((await load(emptyPassword, undefined)).outcome)).toBeUndefined(); // '' after the absent password: 6
      const { outcome, spent } = await load(emptyPassword, undefined, new DerivationBudget(5));
      expect(code(outcome)).toBe('ERR_ITERATION_LIMIT');
      expect(spent).toBe(4); // two MACs and the content; the key's two would make 6, refused before they start
    });
  });
});
