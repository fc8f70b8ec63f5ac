/**
 * oidc-provider 8 with features.mTLS and features.dPoP (devserver startBoundOidcServer): a
 * self_signed_tls_client_auth client gets a certificate-bound token (cnf.x5t#S256 = openssl's thumbprint)
 * and, with a DPoP proof from @x/token's building block, a DPoP token (cnf.jkt = the key's thumbprint).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, exportJWK, importX509 } from 'jose';
import { fetch } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { makeCertificate, makeIssuedCertificate, type TestCertificate } from './binding-support.js';
import { startBoundOidcServer, type BoundOidcServer } from '@x/devserver';
import { createDispatcher } from '../src/dispatcher.js';
import { generateDpopKey } from '../src/binding/dpop.js';

let dir: string;
let server: BoundOidcServer;
let tlsCert: TestCertificate;
let daemon: TestCertificate;
let issued: TestCertificate;
let caPem: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'x-token-oidc-bound-'));
  tlsCert = await makeCertificate(dir, 'server', ['-addext', 'subjectAltName=IP:127.0.0.1']);
  daemon = await makeCertificate(dir, 'daemon');
  const ca = await makeCertificate(dir, 'ca', ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  caPem = ca.certificatePem;
  issued = await makeIssuedCertificate(dir, 'issued-daemon', 'ca');
  const jwk = await exportJWK(await importX509(daemon.certificatePem, 'RS256', { extractable: true }));
  const x5c = [new X509Certificate(daemon.certificatePem).raw.toString('base64')];
  server = await startBoundOidcServer({
    clients: [
      { client_id: 'daemon-app', token_endpoint_auth_method: 'self_signed_tls_client_auth', tls_client_certificate_bound_access_tokens: true, jwks: { keys: [{ ...jwk, x5c }] } },
      // oidc-provider refuses mTLS binding and DPoP on one request ("multiple proof-of-possession mechanisms").
      { client_id: 'ca-app', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=issued-daemon', tls_client_certificate_bound_access_tokens: true },
      { client_id: 'dpop-app', token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [{ ...jwk, x5c }] } },
    ],
    tls: { cert: tlsCert.certificatePem, key: tlsCert.privateKeyPem, clientCa: caPem },
  });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

test('self_signed_tls_client_auth: certificate-bound, then DPoP-bound token', async () => {
  const dispatcher = (await createDispatcher({ ca: tlsCert.certificatePem, proxy: false }, daemon))!;
  try {
    const body = (clientId = 'daemon-app') => new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, scope: 'api.read' });
    const bound = await fetch(server.tokenEndpoint, { method: 'POST', body: body(), dispatcher });
    const boundJson = (await bound.json()) as Record<string, string>;
    expect(bound.status, JSON.stringify(boundJson)).toBe(200);
    expect(boundJson.token_type).toBe('Bearer');
    expect(decodeJwt(boundJson.access_token!).cnf).toMatchObject({ 'x5t#S256': daemon.x5tS256 });

    const key = await generateDpopKey();
    const dpop = await key.createDpopProof({ htm: 'POST', htu: server.tokenEndpoint });
    const dpopResponse = await fetch(server.tokenEndpoint, { method: 'POST', body: body('dpop-app'), dispatcher, headers: { dpop } });
    const dpopJson = (await dpopResponse.json()) as Record<string, string>;
    expect(dpopResponse.status, JSON.stringify(dpopJson)).toBe(200);
    expect(dpopJson.token_type).toBe('DPoP');
    expect(decodeJwt(dpopJson.access_token!).cnf).toMatchObject({ jkt: key.jkt });
  } finally {
    await dispatcher.close();
  }
});

test('tls_client_auth: a CA-issued certificate gets a certificate-bound token; the self-signed one is refused', async () => {
  const statuses: number[] = [];
  for (const cert of [issued, daemon]) {
    const dispatcher = (await createDispatcher({ ca: tlsCert.certificatePem, proxy: false }, cert))!;
    try {
      const response = await fetch(server.tokenEndpoint, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'ca-app', scope: 'api.read' }), dispatcher });
      const json = (await response.json()) as Record<string, string>;
      statuses.push(response.status);
      if (response.status === 200) expect(decodeJwt(json.access_token!).cnf).toMatchObject({ 'x5t#S256': issued.x5tS256 });
      else expect(json.error).toBe('invalid_client');
    } finally {
      await dispatcher.close();
    }
  }
  expect(statuses).toEqual([200, 401]);
});

test('use_dpop_nonce: one retry with the DPoP-Nonce succeeds', async () => {
  const jwk = await exportJWK(await importX509(daemon.certificatePem, 'RS256', { extractable: true }));
  const x5c = [new X509Certificate(daemon.certificatePem).raw.toString('base64')];
  const nonceServer = await startBoundOidcServer({
    clients: [{ client_id: 'dpop-app', token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [{ ...jwk, x5c }] } }],
    tls: { cert: tlsCert.certificatePem, key: tlsCert.privateKeyPem },
    requireDpopNonce: true,
  });
  const dispatcher = (await createDispatcher({ ca: tlsCert.certificatePem, proxy: false }, daemon))!;
  try {
    const key = await generateDpopKey('EdDSA');
    const send = async (nonce?: string) => fetch(nonceServer.tokenEndpoint, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'dpop-app', scope: 'api.read' }),
      dispatcher,
      headers: { dpop: await key.createDpopProof({ htm: 'POST', htu: nonceServer.tokenEndpoint, ...(nonce === undefined ? {} : { nonce }) }) },
    });
    const first = await send();
    expect(first.status).toBe(400);
    expect(((await first.json()) as { error: string }).error).toBe('use_dpop_nonce');
    const nonce = first.headers.get('dpop-nonce');
    expect(nonce).toBeTruthy();
    const second = await send(nonce!);
    const json = (await second.json()) as Record<string, string>;
    expect(second.status, JSON.stringify(json)).toBe(200);
    expect(json.token_type).toBe('DPoP');
    expect(decodeJwt(json.access_token!).cnf).toMatchObject({ jkt: key.jkt });
  } finally {
    await dispatcher.close();
    await nonceServer.close();
  }
});
