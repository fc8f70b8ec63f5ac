// The `tls` option: each server on https://127.0.0.1:PORT with a throwaway CA
// and server certificate made by openssl. Node's global fetch has no per-call
// CA, so these tests talk to the servers with `node:https` `request` + `ca`.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startEntraServer, startOidcServer, startResourceServer, type EntraServer } from '@x/devserver';

import { JWT_BEARER, makeAssertion, opensslCredentials, type TestCredential } from './support.js';

const run = promisify(execFile);

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '11111111-2222-3333-4444-555555555555';
const SCOPE = 'https://graph.example.test/.default';

type Json = Record<string, unknown>;

let dir: string;
let tls: { cert: Buffer; key: Buffer };
let ca: Buffer;
let client: TestCredential;
let entra: EntraServer;

/** A local CA and a server certificate for IP:127.0.0.1 signed by it (EC P-256). */
async function makeCa(dir: string): Promise<{ ca: Buffer; cert: Buffer; key: Buffer }> {
  const p = (name: string): string => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const openssl = (args: string[]) => run('openssl', args);
  await openssl(['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2', '-subj', '/CN=devserver test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await openssl(['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=127.0.0.1']);
  await writeFile(p('server.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  await openssl(['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-out', p('server.crt'), '-days', '2', '-extfile', p('server.ext')]);
  const [caPem, cert, key] = await Promise.all([readFile(p('ca.crt')), readFile(p('server.crt')), readFile(p('server.key'))]);
  return { ca: caPem, cert, key };
}

/** One HTTPS exchange trusting only the test CA; `form` makes it a form POST. */
function call(url: string, options: { form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<{ status: number; body: Json }> {
  const body = options.form === undefined ? undefined : new URLSearchParams(options.form).toString();
  const headers: Record<string, string> = { ...options.headers };
  if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  return new Promise((resolve, reject) => {
    const req = request(url, { method: body === undefined ? 'GET' : 'POST', ca, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Json });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: { text } });
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A v2 token request to `entra` with an assertion for `audience`. */
async function entraToken(audience: string): Promise<{ status: number; body: Json }> {
  const assertion = await makeAssertion({ credential: client, clientId: CLIENT, audience, alg: 'PS256', header: { 'x5t#S256': client.x5tS256 } });
  return call(entra.tokenEndpoint('v2'), {
    form: { grant_type: 'client_credentials', client_id: CLIENT, client_assertion_type: JWT_BEARER, client_assertion: assertion, scope: SCOPE },
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'devserver-tls-'));
  const made = await makeCa(dir);
  ca = made.ca;
  tls = { cert: made.cert, key: made.key };
  [client] = (await opensslCredentials(1)) as [TestCredential];
  entra = await startEntraServer({ tenantId: TENANT, clients: [{ clientId: CLIENT, certificates: [client.certPem] }], tls });
});

afterAll(async () => {
  await entra?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('startEntraServer with tls', () => {
  it('hands out https://127.0.0.1:PORT URLs everywhere', async () => {
    expect(entra.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(entra.tokenEndpoint('v2')).toBe(`${entra.url}/${TENANT}/oauth2/v2.0/token`);
    expect(entra.tokenEndpoint('v1')).toBe(`${entra.url}/${TENANT}/oauth2/token`);
    // The token issuers are Entra's own, whatever the scheme (emulators of Azure services check them).
    expect(entra.issuer('v2')).toBe(`https://login.microsoftonline.com/${TENANT}/v2.0`);
    expect(entra.issuer('v1')).toBe(`https://sts.windows.net/${TENANT}/`);
    expect(entra.jwksUri).toBe(`${entra.url}/${TENANT}/discovery/v2.0/keys`);
    for (const version of ['v1', 'v2'] as const) {
      const path = version === 'v2' ? `${TENANT}/v2.0` : TENANT;
      const { status, body } = await call(`${entra.url}/${path}/.well-known/openid-configuration`);
      expect(status).toBe(200);
      expect(body['issuer']).toBe(entra.issuer(version));
      expect(body['token_endpoint']).toBe(entra.tokenEndpoint(version));
      expect(body['jwks_uri']).toMatch(new RegExp(`^${entra.url.replaceAll('.', '\\.')}/${TENANT}/discovery/`));
    }
  });

  it('issues a token for an assertion whose aud is the https token endpoint', async () => {
    const { status, body } = await entraToken(entra.tokenEndpoint('v2'));
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body['token_type']).toBe('Bearer');
    const keys = await call(entra.jwksUri);
    expect(keys.status).toBe(200);
    const { payload } = await jwtVerify(body['access_token'] as string, createLocalJWKSet(keys.body as unknown as JSONWebKeySet), {
      issuer: entra.issuer('v2'),
      audience: 'https://graph.example.test',
    });
    expect(payload['azp']).toBe(CLIENT);
    expect(payload['azpacr']).toBe('2');
    const last = entra.requests.at(-1)!;
    expect(last.method).toBe('POST');
    expect(last.assertion?.claims['aud']).toBe(entra.tokenEndpoint('v2'));
  });

  it('refuses the http:// aud of the same endpoint with 700023', async () => {
    const httpAud = entra.tokenEndpoint('v2').replace(/^https:/, 'http:');
    const { status, body } = await entraToken(httpAud);
    expect(status).toBe(401);
    expect(body['error']).toBe('invalid_client');
    expect(body['error_codes']).toEqual([700023]);
    expect(body['error_uri']).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
  });

  it('is real TLS: a client without the CA cannot connect, nor can plain http', async () => {
    await expect(fetch(entra.jwksUri)).rejects.toThrow();
    await expect(fetch(entra.jwksUri.replace(/^https:/, 'http:'))).rejects.toThrow();
  });

  it('rejects an incomplete or unusable certificate/key', async () => {
    const clients = [{ clientId: CLIENT, certificates: [client.certPem] }];
    await expect(startEntraServer({ tenantId: TENANT, clients, tls: { cert: tls.cert, key: '' } })).rejects.toThrow(TypeError);
    await expect(startEntraServer({ tenantId: TENANT, clients, tls: { cert: tls.cert, key: 'not a key' } })).rejects.toThrow();
  });
});

describe('startOidcServer and startResourceServer with tls', () => {
  it('oidc-provider on https: discovery, and a token for an assertion with the https aud', async () => {
    const as = await startOidcServer({ clients: [{ clientId: 'daemon', jwks: { keys: [client.publicJwk] } }], tls });
    try {
      expect(as.issuer).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(as.tokenEndpoint).toBe(`${as.issuer}/token`);
      const meta = await call(`${as.issuer}/.well-known/openid-configuration`);
      expect(meta.status).toBe(200);
      expect(meta.body['issuer']).toBe(as.issuer);
      expect(meta.body['token_endpoint']).toBe(as.tokenEndpoint);
      expect(meta.body['jwks_uri']).toBe(as.jwksUri);
      const assertion = await makeAssertion({ credential: client, clientId: 'daemon', audience: as.tokenEndpoint, header: { kid: client.publicJwk.kid } });
      const { status, body } = await call(as.tokenEndpoint, {
        form: { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: assertion, scope: 'api.read' },
      });
      expect(status, JSON.stringify(body)).toBe(200);
      expect(typeof body['access_token']).toBe('string');
    } finally {
      await as.close();
    }
  });

  it('the resource server answers on https', async () => {
    // Its jwksUri is fetched with the global fetch (no test CA there): a plain-http issuer.
    const plain = await startEntraServer({ tenantId: TENANT, clients: [{ clientId: CLIENT, certificates: [client.certPem] }] });
    const api = await startResourceServer({ jwksUri: plain.jwksUri, issuer: plain.issuer('v2'), audience: 'https://graph.example.test', tls });
    try {
      expect(api.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const assertion = await makeAssertion({ credential: client, clientId: CLIENT, audience: plain.tokenEndpoint('v2'), header: { 'x5t#S256': client.x5tS256 } });
      const res = await fetch(plain.tokenEndpoint('v2'), {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT, client_assertion_type: JWT_BEARER, client_assertion: assertion, scope: SCOPE }),
      });
      const token = ((await res.json()) as Json)['access_token'] as string;
      expect((await call(`${api.url}/anything`)).status).toBe(401);
      const ok = await call(`${api.url}/anything`, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body['client_id']).toBe(CLIENT);
    } finally {
      await Promise.all([api.close(), plain.close()]);
    }
  });
});
