import { decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CertificateCredential,
  createClientAssertion,
  loadCredential,
  MAX_ASSERTION_LIFETIME_SECONDS,
  toSigner,
  verifyClientAssertion,
} from '../src/index.js';
import { makePair, type OpensslPair } from './helpers/openssl.js';

// Issue 10 "Signing": claims are JSON (never a hand-built string), and sign and verify share one lifetime rule.

const AUD = 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token';
const CLIENT = '6f1c2a4e-0000-4000-8000-00000000c11e';
let pair: OpensslPair;
let credential: CertificateCredential;

beforeAll(async () => {
  pair = makePair('ec-p256');
  credential = await loadCredential({ pem: pair.certPem + pair.keyPem });
});
afterAll(() => pair.cleanup());

describe('claims', () => {
  it.each([
    ['undefined', { x: undefined }],
    ['a function', { x: () => 1 }],
    ['a nested undefined', { x: { y: [1, undefined] } }],
    ['NaN', { x: Number.NaN }],
    ['a Date', { x: new Date(0) }],
    ['a bigint', { x: 1n }],
  ])('a claim holding %s is refused with ERR_INVALID_OPTIONS (it is not JSON)', async (_, claims) => {
    await expect(createClientAssertion(credential, { clientId: CLIENT, audience: AUD, claims })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTIONS',
      message: expect.stringContaining('claims'),
    });
  });

  it('JSON claims of every kind are serialised as themselves, and jose verifies the assertion', async () => {
    const claims = { s: 'quote " backslash \\ newline \n é 😀', n: -1.5e-7, b: false, z: null, a: [1, 'two', { three: [] }], o: { '': 0 } };
    for (let i = 0; i < 2; i++) {
      const jwt = await createClientAssertion(credential, { clientId: CLIENT, audience: AUD, claims });
      const { payload } = await jwtVerify(jwt, credential.publicKey, { audience: AUD, issuer: CLIENT, subject: CLIENT });
      expect(payload).toMatchObject(claims);
    }
  });

  it('an invalid option set is refused every time, also after a valid one for the same credential', async () => {
    const options = { clientId: CLIENT, audience: AUD };
    await expect(createClientAssertion(credential, options)).resolves.toBeTypeOf('string');
    await expect(createClientAssertion(credential, { ...options, clientId: '' })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTIONS' });
    await expect(createClientAssertion(credential, { ...options, extra: 1 } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTIONS' });
    const other = 'https://other.example/token';
    expect(decodeJwt(await createClientAssertion(credential, { ...options, audience: other })).aud).toBe(other);
  });
});

describe('one lifetime rule for sign and verify', () => {
  it('sign refuses a window exp − nbf over the maximum; the longest it makes verifies without LIFETIME_TOO_LONG', async () => {
    expect(MAX_ASSERTION_LIFETIME_SECONDS).toBe(3600);
    await expect(createClientAssertion(credential, { clientId: CLIENT, audience: AUD, lifetimeSeconds: 3600 })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTIONS',
      message: expect.stringContaining('lifetimeSeconds'),
    });
    for (const [lifetimeSeconds, clockSkewSeconds] of [[3570, 30], [3600, 0], [3540, 60]] as const) {
      const jwt = await createClientAssertion(credential, { clientId: CLIENT, audience: AUD, lifetimeSeconds, clockSkewSeconds });
      const claims = decodeJwt(jwt);
      expect(claims.exp! - claims.nbf!).toBe(MAX_ASSERTION_LIFETIME_SECONDS);
      const report = await verifyClientAssertion(jwt, credential, { clientId: CLIENT, audience: AUD });
      expect(report.problems).toStrictEqual([]);
    }
  });
});

describe('the Signer seam', () => {
  it('a credential is its own Signer; an external signer is checked for the signature shape', async () => {
    expect(toSigner(credential)).toBe(credential);
    const external = toSigner({ certificate: pair.certPem, sign: async () => new Uint8Array(70) });
    expect(external.certificate.thumbprints.sha256Hex).toBe(pair.sha256Hex);
    await expect(external.sign(new Uint8Array(1), 'ES256')).rejects.toMatchObject({ code: 'ERR_SIGNER_FAILED' });
  });
});
