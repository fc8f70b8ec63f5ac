/**
 * The credential as Azure SDK clients use it: through `@azure/core-rest-pipeline`'s
 * `bearerTokenAuthenticationPolicy` (what `@azure/storage-blob` and every other
 * client send their requests through), against the Entra-shaped dev server and
 * a CAE-enabled resource on 127.0.0.1 (https, as the policy demands). Counted
 * on the servers: token requests, their `claims` parameter, challenges.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createEmptyPipeline,
  createPipelineRequest,
  type Pipeline,
} from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/core-auth';
import { authorizeRequestOnTenantChallenge } from '@azure/core-client';
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startCaeResource, startEntraServer, type CaeResource, type EntraServer } from '@x/devserver';
import { ClientCertificateCredential, TokenRequestError, type TokenEvent, type TokenResponse, type TokenStore, type TokenStoreKey } from '@x/token';
import { makeCertificate, type TestCertificate as TlsCertificate } from './binding-support.js';
import { certificateDir, expectNoSecrets, FAST_RETRY, type CertificateDir, type TestCertificate } from './support.js';

const TENANT = '11111111-1111-4111-8111-111111111111';
const OTHER_TENANT = '22222222-2222-4222-8222-222222222222';
const THIRD_TENANT = '33333333-3333-4333-8333-333333333333';
const CLIENT = 'a1b2c3d4-0000-4000-8000-0000000000ca';
const AUDIENCE = 'https://storage.azure.com';
const SCOPE = `${AUDIENCE}/.default`;
const PASSPHRASE = 'pfx pässphrase for azure';
const CP1 = { xms_cc: { values: ['cp1'] } };

let dir: CertificateDir;
let tlsDir: string;
let cert: TestCertificate;
let tls: TlsCertificate;
const servers: Array<{ close(): Promise<void> }> = [];
const allEvents: TokenEvent[] = [];
const allErrors: unknown[] = [];

beforeAll(async () => {
  dir = await certificateDir();
  tlsDir = await mkdtemp(join(tmpdir(), 'x-azure-tls-'));
  [cert, tls] = await Promise.all([dir.make('azure-app'), makeCertificate(tlsDir, 'resource', ['-addext', 'subjectAltName=IP:127.0.0.1'], 'ec')]);
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  expectNoSecrets([allEvents, allErrors], [PASSPHRASE, cert.keyPem.split('\n')[1]!]);
  await dir?.remove();
  await rm(tlsDir, { recursive: true, force: true });
});

async function entra(): Promise<EntraServer> {
  const server = await startEntraServer({
    tenantId: TENANT,
    additionalTenantIds: [OTHER_TENANT, THIRD_TENANT],
    clients: [{ clientId: CLIENT, certificates: [cert.certPem] }],
  });
  servers.push(server);
  return server;
}

async function caeResource(server: EntraServer, tenantId?: string): Promise<CaeResource> {
  const resource = await startCaeResource({
    ...(tenantId === undefined ? {} : { tenantId }),
    jwksUri: server.jwksUri,
    audience: AUDIENCE,
    authorizationUri: `${server.url}/${TENANT}`,
    tls: { cert: tls.certificatePem, key: tls.privateKeyPem },
  });
  servers.push(resource);
  return resource;
}

/** `@azure/identity`'s in-memory PEM form: certificate and key in one string. */
function credential(server: EntraServer, options: { additionallyAllowedTenants?: string[] } = {}): ClientCertificateCredential {
  return new ClientCertificateCredential(TENANT, CLIENT, { certificate: cert.bundlePem }, {
    authorityHost: server.url,
    retry: FAST_RETRY,
    logger: (e) => allEvents.push(e),
    ...options,
  });
}

/** What an Azure SDK client builds: the bearer token policy over the default HTTP client. */
function pipeline(
  tokenCredential: TokenCredential,
  tenantChallenges = false,
): { pipeline: Pipeline; get(url: string): Promise<{ status: number; body: Record<string, unknown> }> } {
  const p = createEmptyPipeline();
  // With tenantChallenges, the challenge callback @azure/storage-blob (and Key Vault) install.
  const challengeCallbacks = tenantChallenges ? { authorizeRequestOnChallenge: authorizeRequestOnTenantChallenge } : undefined;
  p.addPolicy(bearerTokenAuthenticationPolicy({ credential: tokenCredential, scopes: SCOPE, ...(challengeCallbacks && { challengeCallbacks }) }));
  const client = createDefaultHttpClient();
  // The resource's self-signed certificate, trusted for these requests only.
  const agent = new Agent({ ca: tls.certificatePem, keepAlive: true });
  return {
    pipeline: p,
    async get(url) {
      const request = createPipelineRequest({ url });
      request.agent = agent; // createPipelineRequest does not copy `agent` (nor `tlsSettings`)
      const response = await p.sendRequest(client, request);
      return { status: response.status, body: JSON.parse(response.bodyAsText ?? 'null') as Record<string, unknown> };
    },
  };
}

const tokenRequests = (server: EntraServer) => server.requests.filter((r) => r.method === 'POST');
const claimsSent = (server: EntraServer) => tokenRequests(server).map((r) => (r.form['claims'] === undefined ? undefined : JSON.parse(r.form['claims'])));

async function failure(promise: Promise<unknown>): Promise<TokenRequestError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenRequestError);
  allErrors.push(error);
  return error as TokenRequestError;
}

describe('through bearerTokenAuthenticationPolicy', () => {
  test('a CAE claims challenge: the policy retries with a fresh token whose request carried the claims and cp1', async () => {
    const server = await entra();
    const resource = await caeResource(server);
    const c = credential(server);
    const { get } = pipeline(c);

    const first = await get(`${resource.url}/container?comp=list`);
    expect(first).toMatchObject({ status: 200, body: { ok: true, tid: TENANT } });
    // The pipeline asks with enableCae: the client capability went out, nothing else.
    expect(claimsSent(server)).toEqual([{ access_token: CP1 }]);

    resource.revokeAll();
    const second = await get(`${resource.url}/container?comp=list`);
    expect(second).toMatchObject({ status: 200, body: { ok: true } });
    expect(second.body['uti']).not.toBe(first.body['uti']);
    expect(resource.challenges).toBe(1);
    // Exactly one more token request, carrying the challenge's claims merged with the capability.
    const challenge = JSON.parse(resource.lastClaims!) as { access_token: Record<string, unknown> };
    expect(claimsSent(server)).toEqual([{ access_token: CP1 }, { access_token: { ...challenge.access_token, ...CP1 } }]);

    // The fresh token replaced the revoked one in the CAE partition: the next call is a cache hit of it.
    const cached = await c.getToken(SCOPE, { enableCae: true });
    expect(decodeJwt(cached.token)['uti']).toBe(second.body['uti']);
    expect(tokenRequests(server)).toHaveLength(2);
  });

  test('50 concurrent pipeline requests make exactly 1 token request; so do 50 direct getToken calls, and 50 with the same claims', async () => {
    const server = await entra();
    const resource = await caeResource(server);
    const { get } = pipeline(credential(server));
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => get(`${resource.url}/blob/${i}`)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(tokenRequests(server)).toHaveLength(1);
    expect(resource.requests).toBe(50);

    // The pipeline's own token cycler also coalesces: ask the credential directly, as 50 clients sharing it would.
    const direct = await entra();
    const c = credential(direct);
    const tokens = await Promise.all(Array.from({ length: 50 }, () => c.getToken(SCOPE, { enableCae: true })));
    expect(new Set(tokens.map((t) => t.token)).size).toBe(1);
    expect(tokenRequests(direct)).toHaveLength(1);

    const claims = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}';
    const fresh = await Promise.all(Array.from({ length: 50 }, () => c.getToken(SCOPE, { enableCae: true, claims })));
    expect(new Set(fresh.map((t) => t.token)).size).toBe(1);
    expect(fresh[0]!.token).not.toBe(tokens[0]!.token);
    expect(tokenRequests(direct)).toHaveLength(2);
    expect(claimsSent(direct)[1]).toEqual({ access_token: { nbf: { essential: true, value: '1700000000' }, ...CP1 } });
  });
});

describe('through bearerTokenAuthenticationPolicy with the tenant challenge callback', () => {
  test("a tenant challenge (as Azure Storage sends it): the policy retries with the other tenant's token when allowed", async () => {
    const server = await entra();
    const resource = await caeResource(server, OTHER_TENANT);
    const allowed = pipeline(credential(server, { additionallyAllowedTenants: [OTHER_TENANT] }), true);
    const answer = await allowed.get(`${resource.url}/container`);
    expect(answer).toMatchObject({ status: 200, body: { ok: true, tid: OTHER_TENANT } });
    expect(resource.tenantChallenges).toBe(1);
    expect(tokenRequests(server).map((r) => r.path)).toEqual([`/${TENANT}/oauth2/v2.0/token`, `/${OTHER_TENANT}/oauth2/v2.0/token`]);
    // Not allowed: the policy's token cycler retries a refused getToken every 3 s until the current token expires
    // (as with @azure/identity), so the refusal is asserted on the credential, as the callback would call it.
    const refused = credential(server);
    const error = await failure(refused.getToken([SCOPE], { tenantId: OTHER_TENANT, enableCae: true }));
    expect(error.code).toBe('ERR_TENANT_NOT_ALLOWED');
  });
});

describe('GetTokenOptions', () => {
  test('enableCae tokens are cached apart from the others; claims alone are sent as given', async () => {
    const server = await entra();
    const c = credential(server);
    const plain = await c.getToken(SCOPE);
    const cae = await c.getToken(SCOPE, { enableCae: true });
    expect(cae.token).not.toBe(plain.token);
    expect(await c.getToken(SCOPE)).toBe(plain);
    expect(await c.getToken(SCOPE, { enableCae: true })).toBe(cae);
    expect(claimsSent(server)).toEqual([undefined, { access_token: CP1 }]);

    const claims = '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}';
    const challenged = await c.getToken(SCOPE, { claims });
    expect(tokenRequests(server).at(-1)!.form['claims']).toBe(claims);
    expect(await c.getToken(SCOPE)).toBe(challenged);
    expect(tokenRequests(server)).toHaveLength(3);
  });

  test('a token store sees the partition: "cae" for CAE tokens, another tenant by its own token endpoint; claims bypass it', async () => {
    const server = await entra();
    const stored = new Map<string, TokenResponse>();
    const asked: Array<{ key: TokenStoreKey; forceRefresh: boolean }> = [];
    const tokenStore: TokenStore = {
      async lookup(request) {
        asked.push({ key: request.key, forceRefresh: request.forceRefresh });
        const id = JSON.stringify([request.key.tokenEndpoint, request.key.scopes, request.key.partition ?? null]);
        const hit = stored.get(id);
        if (hit !== undefined && !request.forceRefresh && request.isFresh(hit)) return hit;
        const response = await request.fetch();
        stored.set(id, response);
        return response;
      },
    };
    const c = new ClientCertificateCredential(TENANT, CLIENT, { certificate: cert.bundlePem }, {
      authorityHost: server.url,
      additionallyAllowedTenants: [OTHER_TENANT],
      tokenStore,
    });
    await c.getToken(SCOPE);
    await c.getToken(SCOPE, { enableCae: true });
    await c.getToken(SCOPE, { enableCae: true, tenantId: OTHER_TENANT });
    await c.getToken(SCOPE, { enableCae: true, claims: '{"access_token":{"nbf":{"essential":true,"value":"1"}}}' });
    expect(asked.map(({ key, forceRefresh }) => [key.tokenEndpoint, key.partition, forceRefresh])).toEqual([
      [server.tokenEndpoint('v2'), undefined, false],
      [server.tokenEndpoint('v2'), 'cae', false],
      [server.tokenEndpoint('v2', OTHER_TENANT), 'cae', false],
      [server.tokenEndpoint('v2'), 'cae', true],
    ]);
    expect(tokenRequests(server)).toHaveLength(4);
  });

  test('a claims challenge answered while an older plain request is in flight: the older answer does not replace it', async () => {
    const server = await entra();
    const c = credential(server);
    server.fail({ kind: 'slow', delayMs: 2_000 });
    const plain = c.getToken(SCOPE);
    const challenged = await c.getToken(SCOPE, { claims: '{"access_token":{"nbf":{"essential":true,"value":"1"}}}' });
    expect(server.issued).toHaveLength(1);
    // The slow, older request ends after the challenge's; its callers get the newer token, and so does the cache.
    expect((await plain).token).toBe(challenged.token);
    expect(server.issued).toHaveLength(2);
    expect(await c.getToken(SCOPE)).toBe(challenged);
    expect(tokenRequests(server)).toHaveLength(2);
  });

  test('claims that are not a JSON object: ERR_INVALID_OPTIONS, no request, the value not shown', async () => {
    const server = await entra();
    const c = credential(server);
    for (const claims of ['eyJub3QiOiJkZWNvZGVkIn0=', '["x"]', '{"access_token":', 'x'.repeat(20_000)]) {
      const error = await failure(c.getToken(SCOPE, { claims }));
      expect(error.code).toBe('ERR_INVALID_OPTIONS');
      expect(error.message).not.toContain(claims.slice(0, 12));
    }
    expect(tokenRequests(server)).toHaveLength(0);
  });

  test('tenantId: the configured tenant, an allowed one (own endpoint, aud, tid, cache), a refused one, and "*"', async () => {
    const server = await entra();
    const c = credential(server, { additionallyAllowedTenants: [OTHER_TENANT.toUpperCase()] });
    const home = await c.getToken(SCOPE);
    expect(await c.getToken(SCOPE, { tenantId: TENANT })).toBe(home);
    const other = await c.getToken(SCOPE, { tenantId: OTHER_TENANT });
    expect(decodeJwt(other.token)).toMatchObject({ tid: OTHER_TENANT, iss: `https://login.microsoftonline.com/${OTHER_TENANT}/v2.0` });
    expect(decodeJwt(home.token)).toMatchObject({ tid: TENANT });
    expect(await c.getToken(SCOPE, { tenantId: OTHER_TENANT })).toBe(other);
    const [, second] = tokenRequests(server);
    expect(second!.path).toBe(`/${OTHER_TENANT}/oauth2/v2.0/token`);
    expect(second!.assertion!.claims['aud']).toBe(server.tokenEndpoint('v2', OTHER_TENANT));
    expect(tokenRequests(server)).toHaveLength(2);

    const refused = await failure(c.getToken(SCOPE, { tenantId: THIRD_TENANT }));
    expect(refused).toMatchObject({ code: 'ERR_TENANT_NOT_ALLOWED', name: 'TokenRequestError' });
    expect(refused.message).toContain('additionallyAllowedTenants');
    expect((await failure(c.getToken(SCOPE, { tenantId: 'common' }))).code).toBe('ERR_TENANT_NOT_ALLOWED');
    expect(tokenRequests(server)).toHaveLength(2);

    const any = credential(server, { additionallyAllowedTenants: ['*'] });
    expect(decodeJwt((await any.getToken(SCOPE, { tenantId: THIRD_TENANT })).token)['tid']).toBe(THIRD_TENANT);
    // '*' allows any tenant, not any string: the multi-tenant aliases cannot issue app-only tokens.
    expect((await failure(any.getToken(SCOPE, { tenantId: 'organizations' }))).code).toBe('ERR_INVALID_OPTIONS');

    const fixed = new ClientCertificateCredential(TENANT, CLIENT, { certificate: cert.bundlePem }, { tokenEndpoint: server.tokenEndpoint('v2') });
    expect((await failure(fixed.getToken(SCOPE, { tenantId: OTHER_TENANT }))).code).toBe('ERR_TENANT_NOT_ALLOWED');
  });

  test('an abort rejects with an error named AbortError that keeps its class and code', async () => {
    const server = await entra();
    const c = credential(server);
    for (const pending of [c.getToken(SCOPE, { abortSignal: AbortSignal.abort() }), c.getToken(SCOPE, { abortSignal: AbortSignal.timeout(0) })]) {
      const error = await failure(pending);
      expect(error).toMatchObject({ name: 'AbortError', code: 'ERR_ABORTED' });
    }
  });
});

describe("@azure/identity's constructor shapes", () => {
  test('certificatePassword with a PFX (path and bytes); a wrong one fails without showing either', async () => {
    const server = await entra();
    const pfx = await dir.pfx(cert, PASSPHRASE);
    const options = { authorityHost: server.url, retry: FAST_RETRY, sendCertificateChain: true, disableInstanceDiscovery: true };
    for (const certificate of [{ certificatePath: pfx.path, certificatePassword: PASSPHRASE }, { certificate: pfx.bytes, certificatePassword: PASSPHRASE }]) {
      const c = new ClientCertificateCredential(TENANT, CLIENT, certificate, options);
      expect((await c.getToken(SCOPE)).token).toMatch(/^eyJ/);
      expect(tokenRequests(server).at(-1)!.assertion!.header['x5c']).toHaveLength(1);
    }
    const wrong = new ClientCertificateCredential(TENANT, CLIENT, { certificatePath: pfx.path, certificatePassword: 'not it' }, options);
    const error = await wrong.getToken(SCOPE).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toMatchObject({ name: 'CredentialError' });
    allErrors.push(error);
    expect(String(error?.message)).not.toContain('not it');
  });

  test('invalid options name the field, never the value', () => {
    const bad = 'hunter2-value';
    for (const options of [{ additionallyAllowedTenants: bad }, { sendCertificateChain: bad }, { disableInstanceDiscovery: bad }, { authorityHost: 42 }]) {
      let error: unknown;
      try {
        new ClientCertificateCredential(TENANT, CLIENT, { certificate: cert.bundlePem }, options as never);
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'ERR_INVALID_OPTIONS' });
      const message = (error as Error).message;
      expect(message).toContain(Object.keys(options)[0]);
      expect(message).not.toContain(bad);
    }
  });
});
