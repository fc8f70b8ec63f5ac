import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCredential } from '@x/assertion';
// @ts-expect-error: plain ESM JavaScript without type declarations
import { makeSelfSignedPfx } from './self-signed.mjs';

const dir = mkdtempSync(join(tmpdir(), 'x-self-signed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const openssl = (args: string[], env: Record<string, string>) =>
  execFileSync('openssl', args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** The structure lines `openssl pkcs12 -info` prints on stderr (algorithms, iterations, bag kinds). */
const structure = (path: string, passphrase: string) =>
  spawnSync('openssl', ['pkcs12', '-in', path, '-info', '-noout', '-passin', 'env:PW'], { env: { ...process.env, PW: passphrase } })
    .stderr.toString()
    .split('\n')
    .filter((line) => line.trim() !== '');

describe("the demo's throwaway PFX", () => {
  const passphrase = 'dëmo-pass-日本';
  const made = makeSelfSignedPfx({ commonName: 'demo-daemon', passphrase });
  const ours = join(dir, 'ours.pfx');
  writeFileSync(ours, made.pfx);

  it('has the structure `openssl pkcs12 -export` writes by default (OpenSSL 3)', () => {
    // The same certificate and key, exported by the openssl CLI with its defaults.
    const pem = openssl(['pkcs12', '-in', ours, '-nodes', '-passin', 'env:PW'], { PW: passphrase });
    writeFileSync(join(dir, 'pair.pem'), pem);
    const reference = join(dir, 'openssl.pfx');
    openssl(['pkcs12', '-export', '-in', join(dir, 'pair.pem'), '-out', reference, '-passout', 'env:PW'], { PW: passphrase });
    expect(structure(ours, passphrase)).toStrictEqual(structure(reference, passphrase));
    expect(structure(ours, passphrase)).toContain('MAC: sha256, Iteration 2048');
  });

  it('loads with @x/assertion, with the thumbprint openssl computes', async () => {
    const credential = await loadCredential({ pfx: made.pfx, passphrase });
    writeFileSync(join(dir, 'cert.pem'), made.certificatePem);
    const sha1 = openssl(['x509', '-in', join(dir, 'cert.pem'), '-noout', '-fingerprint', '-sha1'], {}).trim().split('=')[1]!.replaceAll(':', '');
    expect(credential.thumbprints.sha1Hex).toBe(sha1);
    expect(credential.subject).toBe('CN=demo-daemon');
  });
});
