import { calculateJwkThumbprint, createRemoteJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startOidcServer, startResourceServer, type OidcServer, type OidcServerError } from '@x/devserver';

import { JWT_BEARER, makeAssertion, opensslCredentials, postForm, type TestCredential } from './support.js';

const CLIENT = 'daemon-app';
const RESOURCE = 'https://api.example.test';

let rsa: TestCredential;
let other: TestCredential;
let ec: { privateKey: CryptoKey; kid: string };
let as: OidcServer;
let api: Awaited<ReturnType<typeof startResourceServer>>;
const errors: OidcServerError[] = [];

beforeAll(async () => {
  [rsa, other] = (await opensslCredentials(2)) as [TestCredential, TestCredential];
  const ecPair = await generateKeyPair('ES256', { extractable: true });
  const ecJwk = await exportJWK(ecPair.publicKey);
  ec = { privateKey: ecPair.privateKey, kid: await calculateJwkThumbprint(ecJwk) };
  as = await startOidcServer({
    clients: [
      { clientId: CLIENT, jwks: { keys: [rsa.publicJwk] } },
      { clientId: 'ec-app', jwks: { keys: [{ ...ecJwk, kid: ec.kid }] } },
    ],
    scopes: ['api.read', 'api.write'],
    accessTokenTtlSeconds: 600,
    onError: (err) => errors.push(err),
  });
  api = await startResourceServer({ issuer: as.issuer, jwksUri: as.jwksUri, audience: as.resource });
});

afterAll(async () => {
  await Promise.all([as?.close(), api?.close()]);
});

async function tokenRequest(form: Record<string, string | undefined>, assertion?: string): Promise<Response> {
  const body: Record<string, string> = {
    grant_type: 'client_credentials',
    client_assertion_type: JWT_BEARER,
    client_assertion: assertion ?? (await makeAssertion({ credential: rsa, clientId: CLIENT, audience: as.tokenEndpoint, header: { kid: rsa.publicJwk.kid } })),
  };
  for (const [k, v] of Object.entries(form)) {
    if (v === undefined) delete body[k];
    else body[k] = v;
  }
  return postForm(as.tokenEndpoint, body);
}

describe('startOidcServer', () => {
  it('listens on 127.0.0.1 and publishes discovery', async () => {
    expect(as.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${as.issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const meta = (await res.json()) as Record<string, unknown>;
    expect(meta['issuer']).toBe(as.issuer);
    expect(meta['token_endpoint']).toBe(as.tokenEndpoint);
    expect(meta['jwks_uri']).toBe(as.jwksUri);
    expect(meta['grant_types_supported']).toContain('client_credentials');
    expect(meta['token_endpoint_auth_methods_supported']).toContain('private_key_jwt');
    expect(as.resource).toBe(RESOURCE);
  });

  it('issues a JWT access token for the resource when only scope is sent, valid at the resource server', async () => {
    const res = await tokenRequest({ scope: 'api.read' });
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 600, scope: 'api.read' });
    const token = body['access_token'] as string;
    expect(decodeProtectedHeader(token)).toMatchObject({ typ: 'at+jwt', alg: 'RS256' });
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(as.jwksUri)), { issuer: as.issuer, audience: RESOURCE });
    expect(payload).toMatchObject({ client_id: CLIENT, sub: CLIENT, scope: 'api.read' });

    const ok = await fetch(`${api.url}/things`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ok: true, sub: CLIENT, client_id: CLIENT, scope: 'api.read', exp: payload.exp });
  });

  it('issues a JWT with an explicit resource, and with neither scope nor resource', async () => {
    for (const form of [{ resource: RESOURCE, scope: 'api.read api.write' }, {}]) {
      const res = await tokenRequest(form);
      const body = (await res.json()) as Record<string, unknown>;
      expect(res.status, JSON.stringify(body)).toBe(200);
      const { payload } = await jwtVerify(body['access_token'] as string, createRemoteJWKSet(new URL(as.jwksUri)), { audience: RESOURCE });
      expect(payload['scope']).toBe(body['scope']);
    }
  });

  it('drops scopes the API does not define and refuses another resource', async () => {
    const dropped = await tokenRequest({ scope: 'api.read unknown.scope' });
    expect(((await dropped.json()) as Record<string, unknown>)['scope']).toBe('api.read');
    const other = await tokenRequest({ resource: 'https://other.example.test' });
    expect(other.status).toBe(400);
    expect(((await other.json()) as Record<string, unknown>)['error']).toBe('invalid_target');
  });

  it('accepts the issuer as aud, takes an ES256 client, and records the requests', async () => {
    const before = as.requests.length;
    const byIssuer = await makeAssertion({ credential: rsa, clientId: CLIENT, audience: as.issuer, header: { kid: rsa.publicJwk.kid } });
    expect((await tokenRequest({ scope: 'api.read' }, byIssuer)).status).toBe(200);
    const es = await makeAssertion({ credential: ec, clientId: 'ec-app', audience: as.tokenEndpoint, alg: 'ES256', header: { kid: ec.kid } });
    expect((await tokenRequest({ scope: 'api.read' }, es)).status).toBe(200);

    const recorded = as.requests.slice(before);
    expect(recorded).toHaveLength(2);
    expect(recorded[0]).toMatchObject({ method: 'POST', path: '/token', form: { grant_type: 'client_credentials', scope: 'api.read', client_assertion: byIssuer } });
    expect(recorded[0]!.assertion?.claims).toMatchObject({ iss: CLIENT, aud: as.issuer });
    expect(recorded[1]!.assertion?.header).toMatchObject({ alg: 'ES256', kid: ec.kid });
    expect(recorded[1]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(recorded[1]!.receivedAt).toBeGreaterThanOrEqual(recorded[0]!.receivedAt);
  });

  it('answers invalid_client and reports why through onError', async () => {
    const cases: Array<[string, Promise<string>, RegExp]> = [
      ['replayed jti', Promise.resolve(''), /only be used once/],
      ['unknown kid', makeAssertion({ credential: rsa, clientId: CLIENT, audience: as.tokenEndpoint, header: { kid: 'nope' } }), /no applicable key/],
      ['wrong key, right kid', makeAssertion({ credential: other, clientId: CLIENT, audience: as.tokenEndpoint, header: { kid: rsa.publicJwk.kid } }), /signature/],
      ['wrong aud', makeAssertion({ credential: rsa, clientId: CLIENT, audience: 'https://elsewhere.test/token', header: { kid: rsa.publicJwk.kid } }), /aud/],
      ['expired', makeAssertion({ credential: rsa, clientId: CLIENT, audience: as.tokenEndpoint, header: { kid: rsa.publicJwk.kid }, claims: { exp: Math.floor(Date.now() / 1000) - 60 } }), /exp/],
      ['unknown client', makeAssertion({ credential: rsa, clientId: 'stranger', audience: as.tokenEndpoint, header: { kid: rsa.publicJwk.kid } }), /client not found/],
    ];
    const first = await makeAssertion({ credential: rsa, clientId: CLIENT, audience: as.tokenEndpoint, header: { kid: rsa.publicJwk.kid } });
    expect((await tokenRequest({}, first)).status).toBe(200);
    cases[0]![1] = Promise.resolve(first);

    for (const [name, assertion, reason] of cases) {
      errors.length = 0;
      const res = await tokenRequest({ scope: 'api.read' }, await assertion);
      const body = (await res.json()) as Record<string, unknown>;
      expect(res.status, name).toBe(401);
      expect(body, name).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
      expect(errors.map((e) => e.error_detail).join(' | '), name).toMatch(reason);
    }
  });
});

describe('startResourceServer', () => {
  it('refuses missing, malformed and invalid tokens without echoing them', async () => {
    const before = api.requests;
    const none = await fetch(api.url);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(none.headers.get('www-authenticate')).not.toMatch(/error=/);

    const malformed = await fetch(api.url, { headers: { authorization: 'Basic abc' } });
    expect(malformed.status).toBe(401);
    expect(malformed.headers.get('www-authenticate')).toMatch(/error="invalid_request"/);

    const forged = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const bad = await fetch(`${api.url}/x`, { headers: { authorization: `Bearer ${forged}` } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    const text = await bad.text();
    expect(JSON.parse(text)).toMatchObject({ error: 'invalid_token' });
    expect(text).not.toContain(forged);
    expect(text).not.toContain('c2lnbmF0dXJl');

    expect((await fetch(api.url, { method: 'POST' })).status).toBe(405);
    expect(api.requests - before).toBe(4);
  });

  it('refuses a valid token for another audience', async () => {
    const strict = await startResourceServer({ issuer: as.issuer, jwksUri: as.jwksUri, audience: 'https://not-this-api.test' });
    try {
      const body = (await (await tokenRequest({ scope: 'api.read' })).json()) as Record<string, unknown>;
      const res = await fetch(strict.url, { headers: { authorization: `Bearer ${body['access_token'] as string}` } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      expect(await res.json()).toMatchObject({ error: 'invalid_token', error_description: expect.stringMatching(/aud/) });
    } finally {
      await strict.close();
    }
  });
});
