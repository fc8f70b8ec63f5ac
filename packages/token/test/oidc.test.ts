/**
 * Against a real, generic RFC 6749 server: oidc-provider 8 with the client
 * registered by the JWKS of its certificate (`credential.toJwk()`, what
 * `x-assertion jwks` prints), by explicit token endpoint and by discovery.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadCredentialFile } from '@x/assertion';
import { startOidcServer, startResourceServer, type OidcServer, type OidcServerError } from '@x/devserver';
import { ClientCertificateCredential, createAuthorizedFetch, discoverAuthorizationServer, TokenRequestError } from '@x/token';
import { certificateDir, expectNoSecrets, FAST_RETRY, type CertificateDir, type TestCertificate } from './support.js';

const CLIENT = 'daemon-app';

let dir: CertificateDir;
let certificate: TestCertificate;
let as: OidcServer;
let api: Awaited<ReturnType<typeof startResourceServer>>;
const serverErrors: OidcServerError[] = [];

beforeAll(async () => {
  dir = await certificateDir();
  certificate = await dir.make('daemon');
  const credential = await loadCredentialFile(certificate.certPath, { keyPath: certificate.keyPath });
  as = await startOidcServer({
    clients: [{ clientId: CLIENT, jwks: { keys: [await credential.toJwk()] } }],
    scopes: ['api.read', 'api.write'],
    accessTokenTtlSeconds: 600,
    onError: (e) => serverErrors.push(e),
  });
  api = await startResourceServer({ issuer: as.issuer, jwksUri: as.jwksUri, audience: as.resource });
});

afterAll(async () => {
  await Promise.all([as?.close(), api?.close()]);
  await dir?.remove();
});

test('a token from an explicit token endpoint; accepted by the resource server', async () => {
  const c = new ClientCertificateCredential('', CLIENT, { certificatePath: certificate.certPath, keyPath: certificate.keyPath }, {
    tokenEndpoint: as.tokenEndpoint,
  });
  const before = as.requests.length;
  const response = await c.getTokenResponse('api.read');
  expect(serverErrors).toEqual([]);
  expect(response).toMatchObject({ tokenType: 'Bearer', expiresIn: 600, scope: 'api.read' });

  const request = as.requests[before]!;
  expect(request.assertion!.header.kid).toBe((await loadCredentialFile(certificate.bundlePath)).kid);
  expect(request.assertion!.claims.aud).toBe(as.tokenEndpoint);

  const call = createAuthorizedFetch(c, 'api.read');
  const answer = await call(`${api.url}/things`);
  expect(answer.status).toBe(200);
  expect(await answer.json()).toMatchObject({ ok: true, client_id: CLIENT, scope: 'api.read' });
  expect(as.requests.length).toBe(before + 1);
});

test('by discovery from the issuer: one discovery and one token request for 50 cold callers', async () => {
  const urls: string[] = [];
  const countingFetch: typeof fetch = (input, init) => {
    urls.push(String(input));
    return fetch(input, init);
  };
  const c = new ClientCertificateCredential('', CLIENT, certificate.bundlePath, { issuer: as.issuer, fetch: countingFetch, retry: FAST_RETRY });
  const tokens = await Promise.all(Array.from({ length: 50 }, () => c.getToken(['api.read', 'api.write'])));
  expect(new Set(tokens).size).toBe(1);
  expect(urls).toEqual([`${as.issuer}/.well-known/openid-configuration`, as.tokenEndpoint]);
  expect((await c.getTokenResponse('api.read api.write')).scope).toBe('api.read api.write');
  expect(c.toJSON()).toMatchObject({ clientId: CLIENT, issuer: as.issuer });
});

test('oidc-provider rejects a replayed jti, so every request must carry a fresh one', async () => {
  const c = new ClientCertificateCredential('', CLIENT, certificate.bundlePath, { tokenEndpoint: as.tokenEndpoint });
  const before = as.requests.length;
  for (let i = 0; i < 3; i++) await c.getToken('api.read', { forceRefresh: true });
  expect(serverErrors).toEqual([]);
  expect(new Set(as.requests.slice(before).map((r) => r.assertion!.claims.jti)).size).toBe(3);
});

test('discovery refuses metadata naming another issuer', async () => {
  const lying: typeof fetch = async (input, init) => {
    const answer = await fetch(input, init);
    const metadata = (await answer.json()) as Record<string, unknown>;
    return Response.json({ ...metadata, issuer: 'https://evil.example' });
  };
  const error = await discoverAuthorizationServer(as.issuer, { fetch: lying }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(TokenRequestError);
  expect(error).toMatchObject({ code: 'ERR_INVALID_METADATA' });
  expectNoSecrets(error);
});
