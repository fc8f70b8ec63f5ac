/**
 * Issue 10: a PFX without a MAC (`openssl pkcs12 -export -nomac`) loads, but
 * every command that opens one says so on stderr, and `--require-integrity`
 * refuses it (ERR_NO_INTEGRITY).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCredential } from '@x/assertion';
import { afterAll, describe, expect, it } from 'vitest';
import { baseEnv, opensslFingerprint, runMain } from './helpers.js';

const AUD = 'https://login.microsoftonline.com/contoso/oauth2/v2.0/token';
const dir = mkdtempSync(join(tmpdir(), 'x-assertion-integrity-'));
const p = (name: string) => join(dir, name);
const env = baseEnv({ PFX_PASS: 'integrity-test-pass' });
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('k.pem'), '-out', p('c.pem'), '-days', '30', '-subj', '/CN=no-mac']);
execFileSync('openssl', ['pkcs12', '-export', '-nomac', '-in', p('c.pem'), '-inkey', p('k.pem'), '-out', p('nomac.pfx'), '-passout', 'env:PFX_PASS'], { env });
execFileSync('openssl', ['pkcs12', '-export', '-in', p('c.pem'), '-inkey', p('k.pem'), '-out', p('mac.pfx'), '-passout', 'env:PFX_PASS'], { env });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The PFX source reports `integrity` once the PKCS#12 work of issue 10 is merged; until then the warning cannot show.
const surfaced = (await loadCredential({ pfx: readFileSync(p('nomac.pfx')), passphrase: 'integrity-test-pass' }, { ignoreValidityPeriod: true })).integrity === 'none';

const commands = (file: string) => [
  ['thumbprint', p(file)],
  ['jwks', p(file)],
  ['jwks', '--entra', p(file)],
  ['sign', p(file), '--client-id', 'c', '--audience', AUD],
];

describe('a PFX without a MAC', () => {
  it('--require-integrity refuses it in every command (ERR_NO_INTEGRITY, exit 1, naming the flag)', async () => {
    for (const args of commands('nomac.pfx')) {
      const r = await runMain([...args, '--passphrase-env', 'PFX_PASS', '--require-integrity'], { env });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/^x-assertion: ERR_NO_INTEGRITY: .*--require-integrity/);
    }
  });

  it.runIf(surfaced)('a PFX with a MAC passes --require-integrity, without a warning', async () => {
    for (const args of commands('mac.pfx')) {
      const r = await runMain([...args, '--passphrase-env', 'PFX_PASS', '--require-integrity'], { env });
      expect(r.stderr, args.join(' ')).toBe('');
      expect(r.code).toBe(0);
    }
  });

  it.runIf(surfaced)('loads without the flag, with a warning on stderr in every command', async () => {
    for (const args of commands('nomac.pfx')) {
      const r = await runMain([...args, '--passphrase-env', 'PFX_PASS'], { env });
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stderr).toBe(`x-assertion: warning: ${p('nomac.pfx')}: the PFX has no MAC, so nothing shows whether its contents were changed (--require-integrity refuses such files)\n`);
    }
    const summary = JSON.parse((await runMain(['thumbprint', p('nomac.pfx'), '--json', '--passphrase-env', 'PFX_PASS'], { env })).stdout);
    expect(summary.sha1).toBe(opensslFingerprint(p('c.pem'), 'sha1'));
  });
});
