import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, generateKeyPair, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startEntraServer, startResourceServer, type EntraServer } from '@x/devserver';

import { expiredCredential, JWT_BEARER, makeAssertion, opensslCredentials, postForm, type AssertionOptions, type TestCredential } from './support.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '11111111-2222-3333-4444-555555555555';
const SECRET_CLIENT = '99999999-2222-3333-4444-555555555555';
const SCOPE = 'https://graph.example.test/.default';
const RESOURCE = 'https://graph.example.test';

let cert: TestCredential;
let second: TestCredential;
let stranger: TestCredential;
let expired: TestCredential;
let entra: EntraServer;

beforeAll(async () => {
  [[cert, second, stranger], expired] = (await Promise.all([opensslCredentials(3), expiredCredential()])) as [
    [TestCredential, TestCredential, TestCredential],
    TestCredential,
  ];
  entra = await startEntraServer({
    tenantId: TENANT,
    clients: [
      // PEM text for one certificate, DER bytes for the other; the expired one too.
      { clientId: CLIENT, certificates: [cert.certPem, second.certDer, expired.certPem] },
      { clientId: SECRET_CLIENT, certificates: [], secret: 's3cr3t~value' },
    ],
    refreshInSeconds: 1800,
  });
});

afterAll(async () => {
  await entra?.close();
});

type Json = Record<string, unknown>;

/** A v2 (default) or v1 request with a valid PS256 / x5t#S256 assertion unless overridden. */
async function request(
  options: {
    version?: 'v1' | 'v2';
    form?: Record<string, string | undefined>;
    assertion?: Partial<AssertionOptions>;
    headers?: Record<string, string>;
  } = {},
): Promise<{ res: Response; body: Json }> {
  const version = options.version ?? 'v2';
  const endpoint = entra.tokenEndpoint(version);
  const assertion = await makeAssertion({
    credential: cert,
    clientId: CLIENT,
    audience: endpoint,
    alg: 'PS256',
    header: { 'x5t#S256': cert.x5tS256 },
    ...options.assertion,
  });
  const form: Record<string, string | undefined> = {
    grant_type: 'client_credentials',
    client_id: CLIENT,
    client_assertion_type: JWT_BEARER,
    client_assertion: assertion,
    ...(version === 'v2' ? { scope: SCOPE } : { resource: RESOURCE }),
    ...options.form,
  };
  const res = await postForm(endpoint, Object.fromEntries(Object.entries(form).filter(([, v]) => v !== undefined)) as Record<string, string>, options.headers);
  const text = await res.text();
  let body: Json = {};
  try {
    body = JSON.parse(text) as Json;
  } catch {
    body = { text };
  }
  return { res, body };
}

function expectEntraError(res: Response, body: Json, status: number, error: string, code: number): void {
  const context = JSON.stringify(body);
  expect(res.status, context).toBe(status);
  expect(body['error'], context).toBe(error);
  expect(body['error_codes'], context).toEqual([code]);
  expect(body['error_description'], context).toMatch(
    new RegExp(`^AADSTS${code}: .+\\r\\nTrace ID: [0-9a-f-]{36}\\r\\nCorrelation ID: [0-9a-f-]{36}\\r\\nTimestamp: \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ$`, 's'),
  );
  expect(body['timestamp']).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  expect(body['trace_id']).toMatch(/^[0-9a-f-]{36}$/);
  expect(body['correlation_id']).toMatch(/^[0-9a-f-]{36}$/);
}

describe('startEntraServer: successful requests', () => {
  it('v2: PS256 + x5t#S256 gets a token with numeric expires_in, ext_expires_in and refresh_in', async () => {
    const { res, body } = await request();
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(body)).toEqual(['token_type', 'expires_in', 'ext_expires_in', 'refresh_in', 'access_token']);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, refresh_in: 1800 });

    const token = body['access_token'] as string;
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(entra.jwksUri)), { issuer: entra.issuer('v2'), audience: RESOURCE });
    expect(payload).toMatchObject({ iss: `https://login.microsoftonline.com/${TENANT}/v2.0`, aud: RESOURCE, azp: CLIENT, azpacr: '2', tid: TENANT, ver: '2.0', idtyp: 'app' });
    expect(payload).not.toHaveProperty('appid');
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.exp! - payload.iat!).toBe(3599);
    const last = entra.issued.at(-1)!;
    expect(last.token).toBe(token);
    expect(last.expiresOn).toBe(payload.exp! * 1000);
  });

  it('v1: RS256 + x5t (SHA-1) gets string numbers, expires_on, not_before and resource', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { res, body } = await request({ version: 'v1', assertion: { alg: 'RS256', header: { x5t: cert.x5t } } });
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: '3599', ext_expires_in: '3599', resource: RESOURCE });
    expect(body).not.toHaveProperty('refresh_in');
    expect(typeof body['expires_on']).toBe('string');
    expect(Number(body['expires_on'])).toBeGreaterThanOrEqual(before + 3599);
    expect(Number(body['not_before'])).toBeGreaterThanOrEqual(before);
    const { payload } = await jwtVerify(body['access_token'] as string, createRemoteJWKSet(new URL(entra.jwksUri)), { issuer: entra.issuer('v1'), audience: RESOURCE });
    // Entra's v1 shape, which Azurite's `--oauth basic` requires: iss on sts.windows.net, appid, nbf/iat/exp.
    expect(payload).toMatchObject({ iss: `https://sts.windows.net/${TENANT}/`, aud: RESOURCE, appid: CLIENT, appidacr: '2', tid: TENANT, ver: '1.0' });
    expect(payload).not.toHaveProperty('azp');
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.exp! - payload.iat!).toBe(3599);
  });

  it('selects a certificate registered as DER; falls back to x5t when x5t#S256 is unknown', async () => {
    expect((await request({ assertion: { credential: second, header: { 'x5t#S256': second.x5tS256 } } })).res.status).toBe(200);
    const fallback = await request({ assertion: { alg: 'RS256', header: { 'x5t#S256': 'bm90LWEtdGh1bWJwcmludA', x5t: cert.x5t } } });
    expect(fallback.res.status).toBe(200);
  });

  it('accepts an assertion within the 5 minute skew, and a registered client secret', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect((await request({ assertion: { claims: { exp: now - 240, nbf: now - 600, iat: now - 600 } } })).res.status).toBe(200);
    expect((await request({ assertion: { claims: { nbf: now + 240 } } })).res.status).toBe(200);

    const bySecret = await postForm(entra.tokenEndpoint('v2'), { grant_type: 'client_credentials', client_id: SECRET_CLIENT, client_secret: 's3cr3t~value', scope: SCOPE });
    const body = (await bySecret.json()) as Json;
    expect(bySecret.status).toBe(200);
    const { payload } = await jwtVerify(body['access_token'] as string, createRemoteJWKSet(new URL(entra.jwksUri)));
    expect(payload['azpacr']).toBe('1');
  });

  it('records requests with form and decoded assertion, and echoes client-request-id', async () => {
    const correlation = randomUUID();
    const before = entra.requests.length;
    const { res, body } = await request({ form: { scope: 'api://x/.default' }, headers: { 'client-request-id': correlation, 'return-client-request-id': 'true' } });
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(res.headers.get('client-request-id')).toBe(correlation);
    expect(res.headers.get('x-ms-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const [recorded] = entra.requests.slice(before);
    expect(recorded).toMatchObject({
      method: 'POST',
      path: `/${TENANT}/oauth2/v2.0/token`,
      form: { grant_type: 'client_credentials', client_id: CLIENT, scope: 'api://x/.default', client_assertion_type: JWT_BEARER },
      headers: { 'client-request-id': correlation },
    });
    expect(recorded!.assertion?.header).toMatchObject({ alg: 'PS256', 'x5t#S256': cert.x5tS256 });
    expect(recorded!.assertion?.claims).toMatchObject({ iss: CLIENT, sub: CLIENT, aud: entra.tokenEndpoint('v2') });

    const failed = await request({ form: { client_id: 'nobody' }, headers: { 'client-request-id': correlation } });
    expect(failed.body['correlation_id']).toBe(correlation);
  });

  it('serves the signing keys and discovery; the token validates at a resource server', async () => {
    const keys = (await (await fetch(entra.jwksUri)).json()) as { keys: Json[] };
    expect(keys.keys).toHaveLength(1);
    expect(keys.keys[0]).not.toHaveProperty('d');
    const meta = (await (await fetch(`${entra.url}/${TENANT}/v2.0/.well-known/openid-configuration`)).json()) as Json;
    expect(meta).toMatchObject({ issuer: entra.issuer('v2'), token_endpoint: entra.tokenEndpoint('v2'), jwks_uri: entra.jwksUri });

    const api = await startResourceServer({ issuer: entra.issuer('v2'), jwksUri: entra.jwksUri, audience: RESOURCE });
    try {
      const { body } = await request();
      const res = await fetch(`${api.url}/me`, { headers: { authorization: `Bearer ${body['access_token'] as string}` } });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ ok: true, client_id: CLIENT });
    } finally {
      await api.close();
    }
  });
});

describe('startEntraServer: refusals with AADSTS codes', () => {
  const now = () => Math.floor(Date.now() / 1000);

  it.each([
    ['aud is the v1 endpoint on v2', () => ({ assertion: { audience: entra.tokenEndpoint('v1') } }), 401, 'invalid_client', 700023],
    ['aud is Entra in the cloud', () => ({ assertion: { audience: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token` } }), 401, 'invalid_client', 700023],
    ['aud is an array', () => ({ assertion: { audience: [entra.tokenEndpoint('v2')] } }), 401, 'invalid_client', 700023],
    ['expired beyond skew', () => ({ assertion: { claims: { exp: now() - 400 } } }), 401, 'invalid_client', 700024],
    ['nbf in the future beyond skew', () => ({ assertion: { claims: { nbf: now() + 400, exp: now() + 900 } } }), 401, 'invalid_client', 700024],
    ['no exp', () => ({ assertion: { claims: { exp: undefined } } }), 401, 'invalid_client', 50027],
    ['no jti', () => ({ assertion: { claims: { jti: undefined } } }), 401, 'invalid_client', 50027],
    ['unregistered certificate', () => ({ assertion: { credential: stranger, header: { 'x5t#S256': stranger.x5tS256 } } }), 401, 'invalid_client', 700027],
    ['hex thumbprint instead of base64url', () => ({ assertion: { alg: 'RS256', header: { x5t: Buffer.from(cert.x5t, 'base64url').toString('hex') } } }), 401, 'invalid_client', 700027],
    ['right thumbprint, wrong key', () => ({ assertion: { credential: stranger } }), 401, 'invalid_client', 700027],
    ['no thumbprint header', () => ({ assertion: { header: { 'x5t#S256': undefined, kid: 'k' } } }), 401, 'invalid_client', 700027],
    ['expired certificate', () => ({ assertion: { credential: expired, header: { 'x5t#S256': expired.x5tS256 } } }), 401, 'invalid_client', 700027],
    ['iss is not the client', () => ({ assertion: { claims: { iss: 'someone-else' } } }), 401, 'invalid_client', 700021],
    ['malformed assertion', () => ({ form: { client_assertion: 'not-a-jwt' } }), 401, 'invalid_client', 50027],
    ['unknown client', () => ({ form: { client_id: randomUUID() }, assertion: { clientId: 'x' } }), 400, 'unauthorized_client', 700016],
    ['client_secret instead of certificate', () => ({ form: { client_secret: 'guess', client_assertion: undefined, client_assertion_type: undefined } }), 401, 'invalid_client', 7000215],
    ['client_secret and assertion', () => ({ form: { client_secret: 'guess' } }), 401, 'invalid_client', 7000215],
    ['no credential', () => ({ form: { client_assertion: undefined, client_assertion_type: undefined } }), 401, 'invalid_client', 7000216],
    ['no client_assertion_type', () => ({ form: { client_assertion_type: undefined } }), 400, 'invalid_request', 900144],
    ['wrong client_assertion_type', () => ({ form: { client_assertion_type: 'urn:x' } }), 400, 'invalid_request', 50027],
    ['scope without /.default', () => ({ form: { scope: 'https://graph.example.test/User.Read' } }), 400, 'invalid_scope', 70011],
    ['two scopes', () => ({ form: { scope: `${SCOPE} https://other.test/.default` } }), 400, 'invalid_scope', 70011],
    ['no scope on v2', () => ({ form: { scope: undefined } }), 400, 'invalid_request', 900144],
    ['no client_id', () => ({ form: { client_id: undefined } }), 400, 'invalid_request', 900144],
    ['no grant_type', () => ({ form: { grant_type: undefined } }), 400, 'invalid_request', 900144],
    ['another grant_type', () => ({ form: { grant_type: 'password' } }), 400, 'unsupported_grant_type', 70003],
  ] as Array<[string, () => { form?: Record<string, string | undefined>; assertion?: Partial<AssertionOptions> }, number, string, number]>)(
    '%s',
    async (_name, options, status, error, code) => {
      const { res, body } = await request(options());
      expectEntraError(res, body, status, error, code);
    },
  );

  it('ES256 is refused (Entra takes RSA only)', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const { res, body } = await request({ assertion: { credential: { privateKey }, alg: 'ES256' } });
    expectEntraError(res, body, 401, 'invalid_client', 5002738);
  });

  it('v1 without resource → 900144', async () => {
    const { res, body } = await request({ version: 'v1', form: { resource: undefined } });
    expectEntraError(res, body, 400, 'invalid_request', 900144);
  });

  it('a replayed jti is refused; a refused request does not burn its jti', async () => {
    const jti = randomUUID();
    const badScope = await request({ assertion: { claims: { jti } }, form: { scope: 'nope' } });
    expect(badScope.res.status).toBe(400);
    expect((await request({ assertion: { claims: { jti } } })).res.status).toBe(200);
    const replay = await request({ assertion: { claims: { jti } } });
    expectEntraError(replay.res, replay.body, 401, 'invalid_client', 50013);
  });

  it('wrong tenant → 90002; other paths, GET and non-form bodies are refused', async () => {
    const wrongTenant = await postForm(`${entra.url}/contoso.onmicrosoft.com/oauth2/v2.0/token`, { grant_type: 'client_credentials' });
    expectEntraError(wrongTenant, (await wrongTenant.json()) as Json, 400, 'invalid_request', 90002);

    const get = await fetch(entra.tokenEndpoint('v2'));
    expect(get.status).toBe(404);
    expect(await get.json()).toHaveProperty('error');
    const elsewhere = await postForm(`${entra.url}/${TENANT}/oauth2/v2.0/authorize`, {});
    expect(elsewhere.status).toBe(404);
    const json = await fetch(entra.tokenEndpoint('v2'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'client_credentials' }) });
    expectEntraError(json, (await json.json()) as Json, 400, 'invalid_request', 900144);
  });
});
