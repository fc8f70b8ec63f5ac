import { constants, createPublicKey, sign as cryptoSign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLIENT_ASSERTION_TYPE,
  type CertificateCredential,
  CredentialError,
  createClientAssertion,
  loadCertificate,
  loadCredential,
  prepareClientAssertion,
  verifyClientAssertion,
} from '../src/index.js';
import { hexToBase64url, makePair, openssl, type OpensslPair } from './helpers/openssl.js';

const NOW = new Date('2026-01-01T00:00:00Z');
const T = NOW.getTime() / 1000;
const AUD = 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token';
const CLIENT = '6f1c2a4e-0000-4000-8000-00000000c11e';

let rsa: OpensslPair;
let credential: CertificateCredential;

beforeAll(async () => {
  rsa = makePair('rsa');
  credential = await loadCredential({ pem: rsa.certPem + rsa.keyPem });
});
afterAll(() => rsa.cleanup());

describe('createClientAssertion', () => {
  it('produces the exact documented header and claims for a fixed clock and jti', async () => {
    const jwt = await createClientAssertion(credential, { clientId: CLIENT, audience: AUD, now: NOW, jti: 'jti-1' });
    expect(decodeProtectedHeader(jwt)).toStrictEqual({
      alg: 'PS256',
      typ: 'JWT',
      x5t: hexToBase64url(rsa.sha1Hex),
      'x5t#S256': hexToBase64url(rsa.sha256Hex),
    });
    expect(decodeJwt(jwt)).toStrictEqual({
      aud: AUD,
      iss: CLIENT,
      sub: CLIENT,
      jti: 'jti-1',
      nbf: T - 30,
      iat: T - 30,
      exp: T + 300,
    });
    const { payload } = await jwtVerify(jwt, credential.publicKey, { currentDate: NOW, audience: AUD, issuer: CLIENT, subject: CLIENT });
    expect(payload.jti).toBe('jti-1');
  });

  it('signs RS256 byte-for-byte as `openssl dgst -sha256 -sign` does', async () => {
    const jwt = await createClientAssertion(credential, {
      clientId: CLIENT,
      audience: AUD,
      algorithm: 'RS256',
      thumbprint: 'x5t',
      now: NOW,
      jti: 'jti-2',
    });
    const [h, p, s] = jwt.split('.');
    expect(decodeProtectedHeader(jwt)).toStrictEqual({ alg: 'RS256', typ: 'JWT', x5t: hexToBase64url(rsa.sha1Hex) });
    const input = join(rsa.dir, 'signing-input');
    writeFileSync(input, `${h}.${p}`);
    openssl(['dgst', '-sha256', '-sign', rsa.keyPath, '-out', `${input}.sig`, input]);
    const expected = readFileSync(`${input}.sig`);
    expect(Buffer.from(s!, 'base64url').equals(expected)).toBe(true);
  });

  it('makes PS256 signatures that `openssl dgst` verifies with PSS, salt length 32', async () => {
    const jwt = await createClientAssertion(credential, { clientId: CLIENT, audience: AUD });
    const [h, p, s] = jwt.split('.');
    writeFileSync(join(rsa.dir, 'ps-input'), `${h}.${p}`);
    writeFileSync(join(rsa.dir, 'ps-sig'), Buffer.from(s!, 'base64url'));
    writeFileSync(join(rsa.dir, 'pub.pem'), credential.publicKey.export({ type: 'spki', format: 'pem' }));
    const out = openssl([
      'dgst', '-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32',
      '-verify', join(rsa.dir, 'pub.pem'), '-signature', join(rsa.dir, 'ps-sig'), join(rsa.dir, 'ps-input'),
    ]);
    expect(out.trim()).toBe('Verified OK');
  });

  it('uses a fresh random jti per call', async () => {
    const jtis = new Set<unknown>();
    for (let i = 0; i < 20; i++) jtis.add(decodeJwt(await createClientAssertion(credential, { clientId: CLIENT, audience: AUD })).jti);
    expect(jtis.size).toBe(20);
    for (const jti of jtis) expect(jti).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('adds x5c (leaf first, standard base64), kid and extra claims', async () => {
    const jwt = await createClientAssertion(credential, {
      clientId: CLIENT,
      audience: AUD,
      thumbprint: 'x5t#S256',
      includeX5c: true,
      kid: credential.kid,
      claims: { tid: 'contoso' },
    });
    const header = decodeProtectedHeader(jwt);
    expect(header.x5c).toStrictEqual([Buffer.from(credential.leaf).toString('base64')]);
    expect(header.kid).toBe(hexToBase64url(rsa.sha256Hex));
    expect(header.x5t).toBeUndefined();
    expect(decodeJwt(jwt).tid).toBe('contoso');
  });

  it.each([
    ['ec-p256', 'ES256'],
    ['ec-p384', 'ES384'],
    ['ec-p521', 'ES512'],
    ['ed25519', 'EdDSA'],
  ] as const)('signs %s keys with %s by default, verified by jose', async (kind, alg) => {
    const pair = makePair(kind);
    try {
      const cred = await loadCredential({ certificate: pair.certPem, privateKey: pair.keyPem });
      const jwt = await createClientAssertion(cred, { clientId: CLIENT, audience: AUD });
      expect(decodeProtectedHeader(jwt).alg).toBe(alg);
      await expect(jwtVerify(jwt, cred.publicKey, { audience: AUD, issuer: CLIENT })).resolves.toBeTruthy();
    } finally {
      pair.cleanup();
    }
  });

  it.each([
    [{ lifetimeSeconds: 0 }, 'lifetimeSeconds'],
    [{ lifetimeSeconds: 3601 }, 'lifetimeSeconds'],
    [{ lifetimeSeconds: 1.5 }, 'lifetimeSeconds'],
    [{ clockSkewSeconds: 61 }, 'clockSkewSeconds'],
    [{ claims: { aud: 'https://evil.example' } }, 'claims'],
    [{ claims: { jti: 'x' } }, 'claims'],
    [{ clientId: '' }, 'clientId'],
    [{ audience: '' }, 'audience'],
    [{ algorithm: 'HS256' }, 'algorithm'],
    [{ thumbprint: 'sha1' }, 'thumbprint'],
    [{ lifetime: 300 }, 'lifetime'],
  ])('rejects %j with ERR_INVALID_OPTIONS naming %s', async (bad, field) => {
    const error = await createClientAssertion(credential, { clientId: CLIENT, audience: AUD, ...(bad as object) }).catch((e) => e);
    expect(error).toBeInstanceOf(CredentialError);
    expect(error.code).toBe('ERR_INVALID_OPTIONS');
    expect(error.message).toContain(field);
  });

  it('refuses an algorithm the key cannot make', async () => {
    await expect(createClientAssertion(credential, { clientId: CLIENT, audience: AUD, algorithm: 'ES256' })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTIONS',
      message: expect.stringContaining('needs an EC P-256 key'),
    });
  });

  it('exports the RFC 7523 client_assertion_type', () => {
    expect(CLIENT_ASSERTION_TYPE).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
  });
});

describe('prepareClientAssertion', () => {
  it('signs the same assertion as createClientAssertion, sync and async, fresh jti each time', async () => {
    const prepared = prepareClientAssertion(credential, { clientId: CLIENT, audience: AUD, algorithm: 'RS256' });
    const vector = { now: NOW, jti: 'jti-3' };
    const oneShot = await createClientAssertion(credential, { clientId: CLIENT, audience: AUD, algorithm: 'RS256', ...vector });
    expect(prepared.signSync(vector)).toBe(oneShot); // RS256 is deterministic
    expect(await prepared.sign(vector)).toBe(oneShot);
    const a = decodeJwt(prepared.signSync());
    const b = decodeJwt(await prepared.sign());
    expect(a.jti).not.toBe(b.jti);
    expect(prepared.algorithm).toBe('RS256');
  });

  it('refuses signSync for an external signer and bad overrides', async () => {
    const prepared = prepareClientAssertion({ certificate: rsa.certPem, sign: async () => new Uint8Array(256) }, { clientId: CLIENT, audience: AUD });
    expect(() => prepared.signSync()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTIONS' }));
    const local = prepareClientAssertion(credential, { clientId: CLIENT, audience: AUD });
    expect(() => local.signSync({ jti: '' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTIONS' }));
    await expect(local.sign({ now: 'yesterday' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTIONS' });
  });
});

describe('createClientAssertion with an external signer', () => {
  it('builds header and claims and lets the signer sign (key never given to the library)', async () => {
    const key = credential.privateKey; // stands in for an HSM: the library only sees `sign`
    const calls: string[] = [];
    const jwt = await createClientAssertion(
      {
        certificate: rsa.certPem,
        sign: async (input, alg) => {
          calls.push(alg);
          return cryptoSign('sha256', input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
        },
      },
      { clientId: CLIENT, audience: AUD },
    );
    expect(calls).toStrictEqual(['PS256']);
    const report = await verifyClientAssertion(jwt, rsa.certPem, { clientId: CLIENT, audience: AUD });
    expect(report.problems).toStrictEqual([]);
  });

  it('wraps a failing signer as ERR_SIGNER_FAILED', async () => {
    const signer = { certificate: loadCertificate(rsa.certPem), sign: async () => Promise.reject(new Error('HSM offline')) };
    await expect(createClientAssertion(signer, { clientId: CLIENT, audience: AUD })).rejects.toMatchObject({ code: 'ERR_SIGNER_FAILED' });
  });

  it('rejects a DER-encoded ECDSA signature (JWS needs raw r||s)', async () => {
    const pair = makePair('ec-p256');
    try {
      const cred = await loadCredential({ certificate: pair.certPem, privateKey: pair.keyPem });
      const signer = { certificate: pair.certPem, sign: async (input: Uint8Array) => cryptoSign('sha256', input, cred.privateKey) };
      await expect(createClientAssertion(signer, { clientId: CLIENT, audience: AUD })).rejects.toMatchObject({
        code: 'ERR_SIGNER_FAILED',
        message: expect.stringContaining('not DER'),
      });
    } finally {
      pair.cleanup();
    }
  });
});

describe('verifyClientAssertion', () => {
  const expected = { clientId: CLIENT, audience: AUD, now: NOW };
  const sign = (extra: object = {}) => createClientAssertion(credential, { clientId: CLIENT, audience: AUD, now: NOW, ...extra });

  it('accepts a good assertion and returns header and claims', async () => {
    const report = await verifyClientAssertion(await sign(), credential, expected);
    expect(report).toMatchObject({ valid: true, problems: [], header: { alg: 'PS256' }, claims: { aud: AUD, sub: CLIENT } });
  });

  it('reports a tampered payload as BAD_SIGNATURE', async () => {
    const [h, , s] = (await sign()).split('.');
    const forged = Buffer.from(JSON.stringify({ aud: AUD, iss: CLIENT, sub: CLIENT, jti: 'x', exp: T + 60 })).toString('base64url');
    const report = await verifyClientAssertion(`${h}.${forged}.${s}`, credential, expected);
    expect(report.problems.map((p) => p.code)).toStrictEqual(['BAD_SIGNATURE']);
  });

  it('lists every problem at once', async () => {
    const other = makePair('rsa');
    try {
      const report = await verifyClientAssertion(await sign({ audience: 'https://wrong.example/token' }), other.certPem, {
        ...expected,
        clientId: 'someone-else',
        now: new Date(NOW.getTime() + 3600_000),
      });
      expect(report.valid).toBe(false);
      expect(report.problems.map((p) => p.code).sort()).toStrictEqual(
        ['AUDIENCE_MISMATCH', 'BAD_SIGNATURE', 'CLIENT_ID_MISMATCH', 'EXPIRED', 'THUMBPRINT_MISMATCH', 'THUMBPRINT_MISMATCH'].sort(),
      );
    } finally {
      other.cleanup();
    }
  });

  it('flags a not-yet-valid assertion and a missing thumbprint', async () => {
    const key = credential.privateKey;
    const h = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url');
    const p = Buffer.from(JSON.stringify({ aud: AUD, iss: CLIENT, sub: CLIENT, nbf: T + 600, exp: T + 900 })).toString('base64url');
    const s = cryptoSign('sha256', Buffer.from(`${h}.${p}`), key).toString('base64url');
    const report = await verifyClientAssertion(`${h}.${p}.${s}`, credential, expected);
    expect(report.problems.map((x) => x.code).sort()).toStrictEqual(['JTI_MISSING', 'NOT_YET_VALID', 'THUMBPRINT_MISSING']);
  });

  it.each(['', 'a.b', 'not.a.jwt', 'eyJhbGciOiJub25lIn0.e30.'])('reports %j as MALFORMED or unsigned', async (jwt) => {
    const report = await verifyClientAssertion(jwt, credential, expected);
    expect(report.valid).toBe(false);
    expect(['MALFORMED', 'ALGORITHM_MISMATCH']).toContain(report.problems[0]!.code);
  });

  it('checks a certificate given as DER', async () => {
    const report = await verifyClientAssertion(await sign(), credential.leaf, expected);
    expect(report.valid).toBe(true);
    expect(createPublicKey(credential.privateKey).export({ format: 'jwk' }).n).toBe(credential.publicKey.export({ format: 'jwk' }).n);
  });
});
