import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { importJWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CertificateCredential,
  CredentialError,
  createClientAssertion,
  loadCertificate,
  loadCredential,
  loadCredentialFile,
} from '../src/index.js';
import { hexToBase64url, makePair, openssl, type OpensslPair } from './helpers/openssl.js';

let pair: OpensslPair;
let credential: CertificateCredential;
const PASSPHRASE = 'S3ntinel-passphrase-9f1e';

beforeAll(async () => {
  pair = makePair('rsa', '/CN=daemon.contoso.test/O=Contoso');
  credential = await loadCredential({ pem: pair.keyPem + pair.certPem });
});
afterAll(() => pair.cleanup());

describe('CertificateCredential', () => {
  it('exposes certificate details and thumbprints equal to openssl fingerprints', () => {
    expect(credential.thumbprints).toStrictEqual({
      x5t: hexToBase64url(pair.sha1Hex),
      'x5t#S256': hexToBase64url(pair.sha256Hex),
      sha1Hex: pair.sha1Hex,
      sha256Hex: pair.sha256Hex,
    });
    expect(credential.subject).toContain('CN=daemon.contoso.test');
    expect(credential.issuer).toBe(credential.subject);
    const serial = openssl(['x509', '-in', pair.certPath, '-noout', '-serial']).trim().split('=')[1];
    expect(credential.serialNumber).toBe(serial);
    expect(credential.keyType).toBe('RSA');
    expect(credential.keySize).toBe(2048);
    expect(credential.notAfter.getTime() - credential.notBefore.getTime()).toBe(2 * 86400_000);
    expect(credential.chain).toHaveLength(1);
    expect(credential.privateKey.type).toBe('private');
  });

  it('never shows the private key in util.inspect, JSON.stringify or String()', () => {
    const body = pair.keyPem.split('\n')[1]!; // a line of the key's base64
    const d = credential.privateKey.export({ format: 'jwk' }).d!;
    for (const text of [inspect(credential, { depth: 10, showHidden: true }), JSON.stringify(credential), String(credential)]) {
      expect(text).not.toContain(body);
      expect(text).not.toContain(d);
      expect(text).not.toContain('PRIVATE KEY');
    }
    expect(JSON.parse(JSON.stringify(credential))).toMatchObject({ thumbprints: credential.thumbprints, keyType: 'RSA' });
  });

  it('publishes a JWK that verifies its assertions, with kid, x5t, x5t#S256 and x5c', async () => {
    const jwk = await credential.toJwk();
    expect(jwk).toMatchObject({
      kty: 'RSA',
      kid: credential.thumbprints['x5t#S256'],
      use: 'sig',
      alg: 'PS256',
      x5t: credential.thumbprints.x5t,
      'x5t#S256': credential.thumbprints['x5t#S256'],
      x5c: [Buffer.from(credential.leaf).toString('base64')],
    });
    expect(jwk).not.toHaveProperty('d');
    const jwt = await createClientAssertion(credential, { clientId: 'c', audience: 'https://as.example/token' });
    await expect(jwtVerify(jwt, await importJWK(jwk, 'PS256'))).resolves.toBeTruthy();
  });
});

describe('loading', () => {
  it('finds the leaf anywhere in a chain and puts it first', async () => {
    const ca = makePair('rsa', '/CN=Test Root CA');
    try {
      const csr = join(ca.dir, 'leaf.csr');
      const leafKey = join(ca.dir, 'leaf.key');
      const leafCert = join(ca.dir, 'leaf.pem');
      openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', leafKey, '-out', csr, '-subj', '/CN=leaf']);
      openssl(['x509', '-req', '-in', csr, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-CAcreateserial', '-out', leafCert, '-days', '1']);
      const leafPem = readFileSync(leafCert, 'utf8');
      const keyPem = readFileSync(leafKey, 'utf8');
      const cred = await loadCredential({ pem: ca.certPem + keyPem + leafPem });
      expect(cred.subject).toBe('CN=leaf');
      expect(cred.chain).toHaveLength(2);
      expect(loadCertificate(cred.chain[1]!).thumbprints).toStrictEqual(loadCertificate(ca.certPem).thumbprints);
    } finally {
      ca.cleanup();
    }
  });

  it('loads encrypted PEM files by path, with keyPath, and says what is wrong without echoing the passphrase', async () => {
    const encKey = join(pair.dir, 'enc.key');
    openssl(['pkcs8', '-topk8', '-in', pair.keyPath, '-out', encKey, '-passout', 'env:PW'], { PW: PASSPHRASE });
    const cred = await loadCredentialFile(pair.certPath, { keyPath: encKey, passphrase: PASSPHRASE });
    expect(cred.thumbprints.sha256Hex).toBe(pair.sha256Hex);

    const missing = await loadCredentialFile(pair.certPath, { keyPath: encKey }).catch((e) => e);
    expect(missing).toBeInstanceOf(CredentialError);
    expect(missing.code).toBe('ERR_PASSPHRASE_REQUIRED');

    const wrong = await loadCredentialFile(pair.certPath, { keyPath: encKey, passphrase: `${PASSPHRASE}-wrong` }).catch((e) => e);
    expect(wrong.code).toBe('ERR_BAD_PASSPHRASE');
    expect(`${wrong.message} ${inspect(wrong, { depth: 10 })}`).not.toContain(PASSPHRASE);
  });

  it('reports an unreadable file as ERR_FILE_READ and a DER certificate alone as ERR_NO_PRIVATE_KEY', async () => {
    await expect(loadCredentialFile(join(pair.dir, 'nope.pem'))).rejects.toMatchObject({ code: 'ERR_FILE_READ' });
    const der = join(pair.dir, 'cert.der');
    writeFileSync(der, loadCertificate(pair.certPem).leaf);
    await expect(loadCredentialFile(der)).rejects.toMatchObject({ code: 'ERR_NO_PRIVATE_KEY' });
  });

  it('rejects bad options and bad input shapes with ERR_INVALID_OPTIONS', async () => {
    await expect(loadCredential({ pem: pair.certPem + pair.keyPem }, { maxIterations: -1 })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTIONS' });
    await expect(loadCredential({} as never)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTIONS' });
  });

  it('says so when given base64 text where DER was expected', () => {
    const b64 = Buffer.from(loadCertificate(pair.certPem).leaf).toString('base64');
    expect(() => loadCertificate(b64)).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED', message: expect.stringContaining('base64') }));
  });
});
