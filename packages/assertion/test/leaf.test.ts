import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCertificate, loadCredential, loadCredentialFile } from '../src/index.js';
import { fingerprint, openssl } from './helpers/openssl.js';

// Issue 10 "The leaf, everywhere": one leaf rule for loadCredential*, loadCertificate (and so every CLI command).
// Every certificate here is made by the openssl CLI: root CA → intermediate CA → leaf, and a renewal of the leaf.

const DAY_MS = 86_400_000;
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
let dir: string;
const pem: Record<'root' | 'inter' | 'leaf' | 'key' | 'renewal' | 'other', string> = {} as never;
const sha256: Record<'root' | 'inter' | 'leaf' | 'renewal' | 'other', string> = {} as never;

/** A certificate for `name`'s key (made if missing), issued by `issuer` (self-signed when undefined). */
function issue(name: string, subject: string, issuer: string | undefined, days: number, ca: boolean, keyOf = name): void {
  const key = join(dir, `${keyOf}.key`);
  const ext = ['-addext', `basicConstraints=critical,CA:${ca ? 'TRUE' : 'FALSE'}`];
  const keyArgs = keyOf === name ? [...EC, '-keyout', key] : ['-key', key];
  if (issuer === undefined) {
    openssl(['req', '-x509', ...keyArgs, ...ext, '-subj', subject, '-days', String(days), '-out', join(dir, `${name}.pem`)]);
    return;
  }
  const csr = join(dir, `${name}.csr`);
  openssl(['req', '-new', ...keyArgs, ...ext, '-subj', subject, '-out', csr]);
  openssl([
    'x509', '-req', '-in', csr, '-copy_extensions', 'copy', '-days', String(days),
    '-CA', join(dir, `${issuer}.pem`), '-CAkey', join(dir, `${issuer}.key`), '-out', join(dir, `${name}.pem`),
  ]);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'x-assertion-leaf-'));
  issue('root', '/CN=Test Root CA', undefined, 30, true);
  issue('inter', '/CN=Test Intermediate CA', 'root', 30, true);
  issue('leaf', '/CN=daemon.contoso.test', 'inter', 1, false);
  // A renewal kept beside the original: the same key, a later notAfter.
  issue('renewal', '/CN=daemon.contoso.test', 'inter', 30, false, 'leaf');
  issue('other', '/CN=other.contoso.test', 'inter', 30, false);
  for (const name of ['root', 'inter', 'leaf', 'renewal', 'other'] as const) {
    pem[name] = readFileSync(join(dir, `${name}.pem`), 'utf8');
    sha256[name] = fingerprint(join(dir, `${name}.pem`), 'sha256');
  }
  pem.key = readFileSync(join(dir, 'leaf.key'), 'utf8');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

describe('with a key: the certificate that carries it', () => {
  it('root, intermediate, leaf and key in every order: loadCredential, loadCredentialFile and loadCertificate agree', async () => {
    for (const order of permutations(['root', 'inter', 'leaf', 'key'] as const)) {
      const bundle = order.map((name) => pem[name]).join('');
      const credential = await loadCredential({ pem: bundle });
      expect(credential.thumbprints.sha256Hex, order.join(' ')).toBe(sha256.leaf);
      expect(credential.chain).toHaveLength(3);
      expect(loadCertificate(bundle).thumbprints.sha256Hex, order.join(' ')).toBe(sha256.leaf);
    }
    const path = join(dir, 'bundle.pem');
    writeFileSync(path, pem.root + pem.inter + pem.leaf + pem.key);
    expect((await loadCredentialFile(path)).thumbprints.sha256Hex).toBe(sha256.leaf);
  });

  it('a renewal beside the expired original: the valid one, and the original never in the chain', async () => {
    const later = new Date(Date.now() + 10 * DAY_MS); // the original (1 day) has expired, the renewal (30 days) has not
    for (const bundle of [pem.leaf + pem.renewal + pem.key, pem.key + pem.renewal + pem.inter + pem.leaf]) {
      const credential = await loadCredential({ pem: bundle }, { now: later });
      expect(credential.thumbprints.sha256Hex).toBe(sha256.renewal);
      const fingerprints = credential.chain.map((der) => loadCertificate(der).thumbprints.sha256Hex);
      expect(fingerprints).not.toContain(sha256.leaf);
    }
  });

  it('both valid: the latest notAfter', async () => {
    const credential = await loadCredential({ pem: pem.leaf + pem.key + pem.renewal });
    expect(credential.thumbprints.sha256Hex).toBe(sha256.renewal);
    expect(credential.chain).toHaveLength(1);
  });
});

describe('without a key: the end-entity certificate', () => {
  it('finds the leaf of root, intermediate and leaf in every order', () => {
    for (const order of permutations(['root', 'inter', 'leaf'] as const)) {
      const info = loadCertificate(order.map((name) => pem[name]).join(''));
      expect(info.thumbprints.sha256Hex, order.join(' ')).toBe(sha256.leaf);
      expect(info.chain).toHaveLength(3);
    }
  });

  it('a CA certificate is the leaf only when it is alone', () => {
    expect(loadCertificate(pem.root).thumbprints.sha256Hex).toBe(sha256.root);
    expect(() => loadCertificate(pem.root + pem.inter)).toThrow(expect.objectContaining({ code: 'ERR_AMBIGUOUS_LEAF' }));
  });

  it('two end-entity certificates are ambiguous: ERR_AMBIGUOUS_LEAF', () => {
    for (const bundle of [pem.inter + pem.leaf + pem.other, pem.leaf + pem.renewal]) {
      expect(() => loadCertificate(bundle)).toThrow(expect.objectContaining({ code: 'ERR_AMBIGUOUS_LEAF' }));
    }
  });

  it('the same certificate twice is one leaf', () => {
    expect(loadCertificate(pem.leaf + pem.inter + pem.leaf).thumbprints.sha256Hex).toBe(sha256.leaf);
  });
});
