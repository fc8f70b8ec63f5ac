/**
 * Test support: real keys and certificates made with OpenSSL (and one
 * expired certificate made with node-forge), and client assertions signed
 * with jose.
 */
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, exportJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import forge from 'node-forge';

const run = promisify(execFile);

/** A private key and its self-signed certificate. */
export interface TestCredential {
  privateKey: KeyObject;
  certPem: string;
  certDer: Uint8Array;
  /** base64url SHA-1 of the DER. */
  x5t: string;
  /** base64url SHA-256 of the DER. */
  x5tS256: string;
  /** Public JWK with a `kid` (RFC 7638 thumbprint). */
  publicJwk: JWK & { kid: string };
}

async function describe(privateKey: KeyObject, certPem: string): Promise<TestCredential> {
  const cert = new X509Certificate(certPem);
  const jwk = await exportJWK(createPublicKey(privateKey));
  return {
    privateKey,
    certPem,
    certDer: new Uint8Array(cert.raw),
    x5t: createHash('sha1').update(cert.raw).digest('base64url'),
    x5tS256: createHash('sha256').update(cert.raw).digest('base64url'),
    publicJwk: { ...jwk, kid: await calculateJwkThumbprint(jwk) },
  };
}

/** Makes RSA-2048 key + self-signed certificate pairs with `openssl req -x509`, in parallel. */
export async function opensslCredentials(count: number): Promise<TestCredential[]> {
  const dir = await mkdtemp(join(tmpdir(), 'devserver-test-'));
  try {
    return await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const key = join(dir, `k${i}.pem`);
        const cert = join(dir, `c${i}.pem`);
        await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', `/CN=test${i}`, '-days', '2']);
        return describe(createPrivateKey(await readFile(key)), await readFile(cert, 'utf8'));
      }),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** An RSA certificate whose validity ended yesterday (node-forge; OpenSSL 3.0 `req` cannot back-date). */
export async function expiredCredential(): Promise<TestCredential> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 3 * 86_400_000);
  cert.validity.notAfter = new Date(Date.now() - 86_400_000);
  const subject = [{ name: 'commonName', value: 'expired' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()), forge.md.sha256.create());
  return describe(privateKey, forge.pki.certificateToPem(cert));
}

/** Options of {@link makeAssertion}; `undefined` in `claims` / `header` removes a default. */
export interface AssertionOptions {
  credential: { privateKey: KeyObject | CryptoKey };
  clientId: string;
  audience: string | string[];
  alg?: string;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
}

/** Signs a client assertion (RFC 7523) with jose. */
export async function makeAssertion(options: AssertionOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: options.clientId,
    sub: options.clientId,
    aud: options.audience,
    jti: randomUUID(),
    iat: now,
    nbf: now,
    exp: now + 300,
    ...options.claims,
  };
  const header: Record<string, unknown> = { alg: options.alg ?? 'RS256', typ: 'JWT', ...options.header };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k];
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(options.credential.privateKey);
}

/** POSTs a form. */
export async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
}

/** The assertion type URN. */
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
