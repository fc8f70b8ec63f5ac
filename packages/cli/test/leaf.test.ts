/**
 * Issue 10, "The leaf, everywhere": thumbprint, jwks, jwks --entra and
 * inspect --cert show and publish the leaf of a bundle (the library's rule),
 * not its first certificate. The chain is made with openssl, in the order
 * that used to publish the root CA: root, intermediate, leaf, key.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opensslFingerprint, runMain } from './helpers.js';

const AUD = 'https://login.microsoftonline.com/contoso/oauth2/v2.0/token';
let dir: string;
const p = (name: string) => join(dir, name);
const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'x-assertion-leaf-'));
  writeFileSync(p('ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  writeFileSync(p('leaf.ext'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n');
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('root.key'), '-out', p('root.crt'), '-days', '30', '-subj', '/CN=leaf-test root', '-addext', 'basicConstraints=critical,CA:TRUE']);
  const issue = (name: string, cn: string, issuer: string, ext: string) => {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`]);
    openssl(['x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${issuer}.crt`), '-CAkey', p(`${issuer}.key`), '-CAcreateserial', '-out', p(`${name}.crt`), '-days', '20', '-extfile', p(ext)]);
  };
  issue('intermediate', 'leaf-test intermediate', 'root', 'ca.ext');
  issue('leaf', 'leaf-test daemon', 'intermediate', 'leaf.ext');
  const cat = (...names: string[]) => names.map((n) => readFileSync(p(n), 'utf8')).join('');
  writeFileSync(p('bundle.pem'), cat('root.crt', 'intermediate.crt', 'leaf.crt', 'leaf.key'));
  writeFileSync(p('chain.pem'), cat('root.crt', 'intermediate.crt', 'leaf.crt'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const leafDerBase64 = () => openssl(['x509', '-in', p('leaf.crt'), '-outform', 'DER']).toString('base64');

describe('the leaf of a bundle, in every command', () => {
  it.each(['bundle.pem', 'chain.pem'])('thumbprint %s is the leaf (openssl x509 -fingerprint)', async (file) => {
    const r = await runMain(['thumbprint', p(file), '--json']);
    expect(r.stderr).toBe('');
    const summary = JSON.parse(r.stdout);
    expect(summary.sha1).toBe(opensslFingerprint(p('leaf.crt'), 'sha1'));
    expect(summary.sha256).toBe(opensslFingerprint(p('leaf.crt'), 'sha256'));
    expect(summary.subject).toBe('CN=leaf-test daemon');
  });

  it.each(['bundle.pem', 'chain.pem'])('jwks --entra %s prints the leaf\'s keyCredentials', async (file) => {
    const r = await runMain(['jwks', '--entra', p(file)]);
    expect(r.stderr).toBe('');
    const { keyCredentials } = JSON.parse(r.stdout);
    expect(keyCredentials).toHaveLength(1);
    expect(keyCredentials[0].customKeyIdentifier).toBe(opensslFingerprint(p('leaf.crt'), 'sha1'));
    expect(keyCredentials[0].key).toBe(leafDerBase64());
  });

  it('jwks: the leaf\'s key, with the chain leaf first in x5c', async () => {
    const r = await runMain(['jwks', p('bundle.pem')]);
    const [key] = JSON.parse(r.stdout).keys;
    expect(key.x5c[0]).toBe(leafDerBase64());
  });

  it('inspect --cert bundle.pem verifies what sign bundle.pem signed', async () => {
    const jwt = (await runMain(['sign', p('bundle.pem'), '--client-id', 'c', '--audience', AUD])).stdout.trim();
    const r = await runMain(['inspect', jwt, '--cert', p('bundle.pem'), '--json']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).verification).toEqual({ valid: true, problems: [] });
  });
});
