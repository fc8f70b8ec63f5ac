/**
 * Issue 10, "The CLI speaks one language": a bad option value is a usage
 * error (exit 2, ERR_USAGE) whichever layer finds it, the limits and the
 * algorithm table are the library's, and messages name the flags.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtures, runMain, type Fixtures } from './helpers.js';

let fx: Fixtures;
const AUD = 'https://login.microsoftonline.com/contoso/oauth2/v2.0/token';
beforeAll(() => {
  fx = makeFixtures();
});
afterAll(() => fx?.cleanup());

/** Runs the CLI in-process and checks it was refused as a usage error; returns the error line. */
async function usageError(args: string[]): Promise<string> {
  const r = await runMain(args);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  const [line, usage] = r.stderr.trimEnd().split('\n');
  expect(line).toMatch(/^x-assertion: ERR_USAGE: /);
  expect(usage).toMatch(/^usage: x-assertion /);
  return line!;
}

describe('bad option values are usage errors everywhere', () => {
  it('--lifetime above the library limit, like --lifetime 0, exits 2 and names --lifetime', async () => {
    const sign = ['sign', fx.rsaBundle, '--client-id', 'c', '--audience', AUD];
    expect(await usageError([...sign, '--lifetime', '0'])).toMatch(/--lifetime/);
    const line = await usageError([...sign, '--lifetime', '99999']);
    expect(line).toMatch(/--lifetime/);
    expect(line).not.toMatch(/lifetimeSeconds/);
  });

  it('an --alg the key cannot make: one code for sign and jwks', async () => {
    expect(await usageError(['sign', fx.rsaBundle, '--client-id', 'c', '--audience', AUD, '--alg', 'ES256'])).toMatch(/--alg ES256/);
    expect(await usageError(['jwks', fx.rsaCert, '--alg', 'ES256'])).toMatch(/--alg ES256/);
    expect(await usageError(['jwks', fx.ecCert, '--alg', 'PS256'])).toMatch(/--alg PS256/);
  });

  it.each(['not-a-url', '/oauth2/v2.0/token', 'http://login.example.com/token', 'ftp://127.0.0.1/token', 'https://user:pw@login.example.com/token', `${AUD}#frag`])(
    '--audience %s is refused (sign and inspect)',
    async (audience) => {
      expect(await usageError(['sign', fx.rsaBundle, '--client-id', 'c', '--audience', audience])).toMatch(/--audience must be an absolute https: URL/);
      expect(await usageError(['inspect', 'a.b.c', '--cert', fx.rsaCert, '--audience', audience])).toMatch(/--audience/);
    },
  );

  it('--audience https:, or http: on loopback, is accepted', async () => {
    for (const audience of [AUD, 'http://127.0.0.1:8080/token', 'http://localhost/token', 'http://[::1]:3000/token']) {
      const r = await runMain(['sign', fx.rsaBundle, '--client-id', 'c', '--audience', audience]);
      expect(r.stderr, audience).toBe('');
      expect(r.code).toBe(0);
    }
  });
});

describe('one lifetime rule for sign and inspect', () => {
  it('the longest --lifetime sign accepts verifies in inspect --cert; one second more is a usage error', async () => {
    const { MAX_ASSERTION_LIFETIME_SECONDS } = await import('@x/assertion');
    const sign = ['sign', fx.rsaBundle, '--client-id', 'c', '--audience', AUD];
    let longest = 0;
    for (let s = MAX_ASSERTION_LIFETIME_SECONDS; s > 0 && longest === 0; s -= 1) {
      if ((await runMain([...sign, '--lifetime', String(s)])).code === 0) longest = s;
      else expect(await usageError([...sign, '--lifetime', String(s)])).toMatch(/--lifetime/);
      if (MAX_ASSERTION_LIFETIME_SECONDS - s > 120) break; // the backdating is at most 60 s
    }
    expect(longest).toBeGreaterThan(0);
    const jwt = (await runMain([...sign, '--lifetime', String(longest)])).stdout.trim();
    const r = await runMain(['inspect', jwt, '--cert', fx.rsaCert, '--json']);
    expect(JSON.parse(r.stdout).verification).toEqual({ valid: true, problems: [] });
  });
});

describe('messages name flags, not API options', () => {
  it('a certificate without its key asks for --key, not keyPath', async () => {
    const r = await runMain(['sign', fx.rsaCert, '--client-id', 'c', '--audience', AUD]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^x-assertion: ERR_NO_PRIVATE_KEY: .*--key/);
    expect(r.stderr).not.toMatch(/keyPath/);
  });
});
