/**
 * The sender-constrained matrix against oidc-provider 8 (devserver startBoundOidcServer) and a protected
 * resource that checks bindings (devserver startBoundResourceServer): 3 client authentication methods ×
 * bearer / mtls / dpop through ClientCertificateCredential and createAuthorizedFetch. cnf is checked against
 * openssl's x5t#S256 and jose's RFC 7638 thumbprint of the proof key; refusals are read from the resource.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, importX509, type JSONWebKeySet, type JWK } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startBoundOidcServer, startBoundResourceServer, type BoundOidcServer, type BoundResourceServer } from '@x/devserver';
import { ClientCertificateCredential, createAuthorizedFetch, type TokenEvent, type TokenStoreKey } from '../src/index.js';
import { makeCertificate, makeIssuedCertificate, type TestCertificate } from './binding-support.js';

const METHODS = ['private_key_jwt', 'self_signed_tls_client_auth', 'tls_client_auth'] as const;
const BINDINGS = ['bearer', 'mtls', 'dpop'] as const;

let dir: string;
let server: BoundOidcServer;
let resource: BoundResourceServer;
let tlsCert: TestCertificate;
let daemon: TestCertificate;
let issued: TestCertificate;
let other: TestCertificate;
let jwks: JSONWebKeySet;
let resourceClockOffsetSeconds = 0;

const agents: Agent[] = [];
function agent(cert?: TestCertificate): Agent {
  const a = new Agent({ connect: { ca: tlsCert.certificatePem, ...(cert === undefined ? {} : { cert: cert.certificatePem, key: cert.privateKeyPem }) } });
  agents.push(a);
  return a;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'x-token-bound-matrix-'));
  tlsCert = await makeCertificate(dir, 'server', ['-addext', 'subjectAltName=IP:127.0.0.1']);
  daemon = await makeCertificate(dir, 'daemon');
  other = await makeCertificate(dir, 'other');
  const ca = await makeCertificate(dir, 'ca', ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  issued = await makeIssuedCertificate(dir, 'issued-daemon', 'ca');
  const jwk = await exportJWK(await importX509(daemon.certificatePem, 'RS256', { extractable: true }));
  // oidc-provider picks the key by the assertion's kid.
  const daemonKeys = { keys: [{ ...jwk, kid: 'daemon', x5c: [new X509Certificate(daemon.certificatePem).raw.toString('base64')] }] };
  const registration = (method: (typeof METHODS)[number]) =>
    method === 'tls_client_auth' ? { tls_client_auth_subject_dn: 'CN=issued-daemon' } : { jwks: daemonKeys };
  server = await startBoundOidcServer({
    clients: [
      ...METHODS.flatMap((method) =>
        BINDINGS.map((binding) => ({
          client_id: `${method}-${binding}`,
          token_endpoint_auth_method: method,
          tls_client_certificate_bound_access_tokens: binding === 'mtls',
          ...registration(method),
        })),
      ),
      // A client the server issues unbound tokens to: the downgrade case.
      { client_id: 'unbound', token_endpoint_auth_method: 'private_key_jwt', jwks: daemonKeys },
    ],
    tls: { cert: tlsCert.certificatePem, key: tlsCert.privateKeyPem, clientCa: ca.certificatePem },
  });
  jwks = (await (await undiciFetch(server.jwksUri, { dispatcher: agent() })).json()) as JSONWebKeySet;
  resource = await startBoundResourceServer({
    jwks,
    tls: { cert: tlsCert.certificatePem, key: tlsCert.privateKeyPem },
    nowSeconds: () => Date.now() / 1000 + resourceClockOffsetSeconds,
  });
}, 60_000);

afterAll(async () => {
  await resource?.close();
  await server?.close();
  await Promise.all(agents.map((a) => a.close()));
  await rm(dir, { recursive: true, force: true });
});

function credential(clientId: string, cert: TestCertificate, options: Record<string, unknown>, events: TokenEvent[] = []) {
  return new ClientCertificateCredential('t', clientId, { certificate: cert.certificatePem, privateKey: cert.privateKeyPem }, {
    tokenEndpoint: server.tokenEndpoint,
    ca: tlsCert.certificatePem,
    retry: { maxAttempts: 1 },
    kid: 'daemon',
    logger: (e) => events.push(e),
    ...options,
  });
}

/** The resource's answer to `init` sent directly (not through createAuthorizedFetch). */
async function direct(headers: Record<string, string>, cert?: TestCertificate, path = '/data'): Promise<number> {
  const response = await undiciFetch(`${resource.url}${path}`, { headers, dispatcher: agent(cert) });
  await response.body?.cancel();
  return response.status;
}

describe.each(METHODS)('%s', (method) => {
  const cert = () => (method === 'tls_client_auth' ? issued : daemon);
  test.each(BINDINGS)('× %s: bound token, resource 200 via createAuthorizedFetch, 401 to a stolen copy', async (binding) => {
    const events: TokenEvent[] = [];
    const c = credential(`${method}-${binding}`, cert(), {
      clientAuthentication: method,
      ...(binding === 'bearer' ? {} : { proofOfPossession: binding }),
    }, events);
    const token = await c.getToken('api.read');
    expect(token.tokenType).toBe(binding === 'dpop' ? 'DPoP' : 'Bearer');
    const { cnf } = decodeJwt(token.token) as { cnf?: Record<string, string> };
    let proofJkt: string | undefined;
    if (binding === 'mtls') expect(cnf).toEqual({ 'x5t#S256': cert().x5tS256 });
    else if (binding === 'dpop') {
      const proof = await c.createDpopProof({ htm: 'GET', htu: `${resource.url}/x` });
      proofJkt = await calculateJwkThumbprint(decodeProtectedHeader(proof).jwk as JWK, 'sha256');
      expect(cnf).toEqual({ jkt: proofJkt });
    } else expect(cnf).toBeUndefined();

    const api = createAuthorizedFetch(c, 'api.read');
    const ok = await api(`${resource.url}/data?x=1`);
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect(((await ok.json()) as { scheme: string }).scheme).toBe(token.tokenType);
    // Token requests: one (the resource call used the cached token).
    expect(events.filter((e) => e.type === 'request')).toHaveLength(1);

    const refusalsBefore = resource.refusals.length;
    const asBearer = await direct({ authorization: `Bearer ${token.token}` });
    if (binding === 'bearer') expect(asBearer).toBe(200);
    else {
      expect(asBearer).toBe(401);
      expect(resource.refusals.slice(refusalsBefore)).toEqual([binding === 'mtls' ? 'ERR_CERT_MISMATCH' : 'ERR_DPOP_AS_BEARER']);
    }
    if (binding === 'mtls') {
      expect(await direct({ authorization: `Bearer ${token.token}` }, other)).toBe(401);
      expect(await direct({ authorization: `Bearer ${token.token}` }, cert())).toBe(200);
    }
    if (binding === 'dpop') {
      const proof = await c.createDpopProof({ htm: 'GET', htu: `${resource.url}/data`, accessToken: token.token });
      const headers = { authorization: `DPoP ${token.token}`, dpop: proof };
      expect(await direct(headers)).toBe(200);
      expect(await direct(headers)).toBe(401);
      expect(resource.refusals.at(-1)).toBe('ERR_DPOP_REPLAY');
      resourceClockOffsetSeconds = 600;
      try {
        const later = await c.createDpopProof({ htm: 'GET', htu: `${resource.url}/data`, accessToken: token.token });
        expect(await direct({ authorization: `DPoP ${token.token}`, dpop: later })).toBe(401);
        expect(resource.refusals.at(-1)).toBe('ERR_DPOP_STALE');
      } finally {
        resourceClockOffsetSeconds = 0;
      }
    }
  });
});

test('a server that ignores the binding: ERR_TOKEN_NOT_BOUND, unless allowTokenTypeDowngrade', async () => {
  await expect(credential('unbound', daemon, { proofOfPossession: 'mtls' }).getToken('api.read')).rejects.toMatchObject({ code: 'ERR_TOKEN_NOT_BOUND' });
  const allowed = await credential('unbound', daemon, { proofOfPossession: 'mtls', allowTokenTypeDowngrade: true }).getToken('api.read');
  expect(allowed.tokenType).toBe('Bearer');
  expect(decodeJwt(allowed.token).cnf).toBeUndefined();
});

test('use_dpop_nonce at the token endpoint and at the resource: one retry each', async () => {
  const nonceServer = await startBoundOidcServer({
    clients: [{ client_id: 'dpop-app', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...(await exportJWK(await importX509(daemon.certificatePem, 'RS256', { extractable: true }))), kid: 'daemon' }] } }],
    tls: { cert: tlsCert.certificatePem, key: tlsCert.privateKeyPem },
    requireDpopNonce: true,
  });
  const nonceJwks = (await (await undiciFetch(nonceServer.jwksUri, { dispatcher: agent() })).json()) as JSONWebKeySet;
  const nonceResource = await startBoundResourceServer({ jwks: nonceJwks, tls: { cert: tlsCert.certificatePem, key: tlsCert.privateKeyPem }, requireDpopNonce: true });
  try {
    const events: TokenEvent[] = [];
    const c = new ClientCertificateCredential('t', 'dpop-app', { certificate: daemon.certificatePem, privateKey: daemon.privateKeyPem }, {
      tokenEndpoint: nonceServer.tokenEndpoint,
      ca: tlsCert.certificatePem,
      proofOfPossession: 'dpop',
      dpopAlgorithm: 'EdDSA',
      kid: 'daemon',
      retry: { maxAttempts: 1 },
      logger: (e) => events.push(e),
    });
    const token = await c.getToken('api.read');
    expect(token.tokenType).toBe('DPoP');
    expect(events.filter((e) => e.type === 'request')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'response').map((e) => (e as { status: number }).status)).toEqual([200]);
    const api = createAuthorizedFetch(c, 'api.read');
    expect((await api(`${nonceResource.url}/a`)).status).toBe(200);
    expect(nonceResource.requests).toBe(2);
    expect(nonceResource.refusals).toEqual(['ERR_DPOP_NONCE']);
    expect((await api(`${nonceResource.url}/b`)).status).toBe(200);
    expect(nonceResource.requests).toBe(3);
  } finally {
    await nonceResource.close();
    await nonceServer.close();
  }
});

test('a token store is told the token type asked for and the binding (partition jkt=… for DPoP, mtls for certificate-bound Bearer)', async () => {
  const keys: TokenStoreKey[] = [];
  const tokenStore = { lookup: (request: { key: TokenStoreKey; fetch: () => Promise<never> }) => (keys.push(request.key), request.fetch()) };
  const dpop = credential('private_key_jwt-dpop', daemon, { proofOfPossession: 'dpop', tokenStore });
  const mtls = credential('self_signed_tls_client_auth-mtls', daemon, { clientAuthentication: 'self_signed_tls_client_auth', proofOfPossession: 'mtls', tokenStore });
  await dpop.getToken('api.read');
  await mtls.getToken('api.read');
  const proof = await dpop.createDpopProof({ htm: 'GET', htu: resource.url });
  const jkt = await calculateJwkThumbprint(decodeProtectedHeader(proof).jwk as JWK, 'sha256');
  expect(keys.map((k) => [k.tokenType, k.partition, k.certificateThumbprint])).toEqual([
    ['DPoP', `jkt=${jkt}`, daemon.x5tS256],
    // RFC 8705 keeps token_type Bearer: the partition keeps a shared store from handing this token to an unbound credential.
    ['Bearer', 'mtls', daemon.x5tS256],
  ]);
});

test('discovery: TLS client authentication uses mtls_endpoint_aliases.token_endpoint (RFC 8705 §5), private_key_jwt the token_endpoint', async () => {
  const aliased = await startBoundOidcServer({
    clients: [
      { client_id: 'tls', token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [{ ...(await exportJWK(await importX509(daemon.certificatePem, 'RS256', { extractable: true }))), x5c: [new X509Certificate(daemon.certificatePem).raw.toString('base64')] }] } },
      { client_id: 'jwt', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...(await exportJWK(await importX509(daemon.certificatePem, 'RS256', { extractable: true }))), kid: 'daemon' }] } },
    ],
    tls: { cert: tlsCert.certificatePem, key: tlsCert.privateKeyPem },
    mtlsEndpointAlias: true,
  });
  try {
    const options = { tokenEndpoint: undefined, issuer: aliased.issuer };
    await credential('tls', daemon, { ...options, clientAuthentication: 'self_signed_tls_client_auth' }).getToken('api.read');
    await credential('jwt', daemon, options).getToken('api.read');
    expect(aliased.paths.filter((p) => p.startsWith('/token'))).toEqual(['/token?alias=mtls', '/token']);
  } finally {
    await aliased.close();
  }
});
