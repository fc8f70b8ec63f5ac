/**
 * Entra mTLS PoP against the devserver's mTLS endpoint: the token request over mutual TLS through
 * @x/token's dispatcher gets token_type=mtls_pop with cnf.x5t#S256 equal to openssl's thumbprint of the
 * certificate; another certificate, or a request with client_assertion, is refused.
 */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importJWK, jwtVerify } from 'jose';
import { fetch } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { makeCertificate, type TestCertificate } from './binding-support.js';
import { startBoundResourceServer, startEntraMtlsServer, type EntraMtlsServer } from '@x/devserver';
import { ClientCertificateCredential, createAuthorizedFetch, type TokenEvent } from '../src/index.js';
import { createDispatcher } from '../src/dispatcher.js';

let dir: string;
let server: EntraMtlsServer;
let tlsCert: TestCertificate;
let daemon: TestCertificate;
let other: TestCertificate;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'x-token-entra-mtls-'));
  tlsCert = await makeCertificate(dir, 'server', ['-addext', 'subjectAltName=IP:127.0.0.1']);
  daemon = await makeCertificate(dir, 'daemon');
  other = await makeCertificate(dir, 'other');
  server = await startEntraMtlsServer({
    tenant: 'contoso',
    clients: { 'daemon-app': daemon.x5tS256 },
    tls: { cert: tlsCert.certificatePem, key: tlsCert.privateKeyPem },
  });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

async function tokenRequest(cert: TestCertificate, extra: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const dispatcher = (await createDispatcher({ ca: tlsCert.certificatePem, proxy: false }, cert))!;
  try {
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: 'daemon-app', scope: 'https://api.example.test/.default', token_type: 'mtls_pop', ...extra });
    const response = await fetch(server.tokenEndpoint, { method: 'POST', body, dispatcher });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  } finally {
    await dispatcher.close();
  }
}

test('mtls_pop token bound to the TLS certificate; other certificate and client_assertion refused', async () => {
  const ok = await tokenRequest(daemon);
  expect(ok.status).toBe(200);
  expect(ok.body.token_type).toBe('mtls_pop');
  const { payload } = await jwtVerify(ok.body.access_token as string, await importJWK(server.publicJwk, 'RS256'));
  expect(payload.cnf).toEqual({ 'x5t#S256': daemon.x5tS256 });
  expect((await tokenRequest(other)).body.error).toBe('invalid_client');
  expect((await tokenRequest(daemon, { client_assertion: 'x' })).body.error).toBe('invalid_request');
  expect(server.requestCount).toBe(3);
});

test('ClientCertificateCredential with proofOfPossession mtls against Entra: mtls_pop token, resource 200 over mTLS, 401 as Bearer', async () => {
  const resource = await startBoundResourceServer({ jwks: { keys: [server.publicJwk] }, tls: { cert: tlsCert.certificatePem, key: tlsCert.privateKeyPem } });
  const requestsBefore = server.requestCount;
  const events: TokenEvent[] = [];
  try {
    const credential = new ClientCertificateCredential('contoso', 'daemon-app', { certificate: daemon.certificatePem, privateKey: daemon.privateKeyPem }, {
      authorityHost: `https://127.0.0.1:${new URL(server.tokenEndpoint).port}`,
      disableInstanceDiscovery: true,
      ca: tlsCert.certificatePem,
      proofOfPossession: 'mtls',
      retry: { maxAttempts: 1 },
      logger: (e) => events.push(e),
    });
    const token = await credential.getToken('api://resource/.default');
    expect(token.tokenType).toBe('mtls_pop');
    const { payload } = await jwtVerify(token.token, await importJWK(server.publicJwk, 'RS256'));
    expect(payload.cnf).toEqual({ 'x5t#S256': daemon.x5tS256 });
    const api = createAuthorizedFetch(credential, 'api://resource/.default');
    const ok = await api(`${resource.url}/me`);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { scheme: string }).scheme).toBe('mtls_pop');
    // One token request (the resource call used the cached token), none with a client_assertion (the server refuses those).
    expect(server.requestCount - requestsBefore).toBe(1);
    const stolen = await fetch(`${resource.url}/me`, { headers: { authorization: `Bearer ${token.token}` }, dispatcher: (await createDispatcher({ ca: tlsCert.certificatePem, proxy: false }, other))! });
    expect(stolen.status).toBe(401);
    expect(resource.refusals).toEqual(['ERR_CERT_MISMATCH']);
  } finally {
    await resource.close();
  }
});

test('after a certificate rotation, the mTLS connection presents the new certificate (the dispatcher is rebuilt)', async () => {
  const path = join(dir, 'rotating.pem');
  await writeFile(path, daemon.certificatePem + daemon.privateKeyPem);
  const credential = new ClientCertificateCredential('contoso', 'daemon-app', path, {
    authorityHost: `https://127.0.0.1:${new URL(server.tokenEndpoint).port}`,
    ca: tlsCert.certificatePem,
    proofOfPossession: 'mtls',
    certificateCheckIntervalMs: 0,
    retry: { maxAttempts: 1 },
  });
  const first = await credential.getToken('api://one/.default');
  const { payload } = await jwtVerify(first.token, await importJWK(server.publicJwk, 'RS256'));
  expect(payload.cnf).toEqual({ 'x5t#S256': daemon.x5tS256 });
  // The app registers only the daemon's certificate: a request over a connection presenting `other`
  // is refused — which shows the TLS handshake now presents the rotated file's certificate.
  await writeFile(`${path}.tmp`, other.certificatePem + other.privateKeyPem);
  await rename(`${path}.tmp`, path);
  await expect(credential.getToken('api://two/.default')).rejects.toMatchObject({ code: 'ERR_OAUTH_ERROR' });
  await writeFile(`${path}.tmp`, daemon.certificatePem + daemon.privateKeyPem);
  await rename(`${path}.tmp`, path);
  const third = await credential.getToken('api://three/.default');
  expect(third.tokenType).toBe('mtls_pop');
});
