/**
 * Entra mTLS PoP against the devserver's mTLS endpoint: the token request over mutual TLS through
 * @x/token's dispatcher gets token_type=mtls_pop with cnf.x5t#S256 equal to openssl's thumbprint of the
 * certificate; another certificate, or a request with client_assertion, is refused.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { importJWK, jwtVerify } from 'jose';
import { fetch } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startEntraMtlsServer, type EntraMtlsServer } from '@x/devserver';
import { createMtlsDispatcher } from '../src/binding/mtls.js';

const run = promisify(execFile);
type Cert = { certificatePem: string; privateKeyPem: string; x5tS256: string };
let dir: string;
let server: EntraMtlsServer;
let tlsCert: Cert;
let daemon: Cert;
let other: Cert;

async function makeCertificate(name: string, extra: string[] = []): Promise<Cert> {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.crt`);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-subj', `/CN=${name}`, '-days', '2', ...extra]);
  const { stdout } = await run('sh', ['-c', `openssl x509 -in '${certPath}' -outform DER | openssl dgst -sha256 -binary | openssl base64 -A`]);
  return {
    certificatePem: await readFile(certPath, 'utf8'),
    privateKeyPem: await readFile(keyPath, 'utf8'),
    x5tS256: stdout.trim().replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_'),
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'x-token-entra-mtls-'));
  tlsCert = await makeCertificate('server', ['-addext', 'subjectAltName=IP:127.0.0.1']);
  daemon = await makeCertificate('daemon');
  other = await makeCertificate('other');
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

async function tokenRequest(cert: Cert, extra: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const dispatcher = createMtlsDispatcher({ ...cert, ca: tlsCert.certificatePem });
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
