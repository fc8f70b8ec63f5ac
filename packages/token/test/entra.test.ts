/**
 * Against the Entra-shaped dev server (real assertion verification, faults on
 * demand) on 127.0.0.1: what reaches the server, v1/v2 answers, errors,
 * retries, the cache, rotation.
 */
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { createClientAssertion, loadCredentialFile, type CertificateCredential } from '@x/assertion';
import { startEntraServer, startResourceServer, type EntraServer } from '@x/devserver';
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  createAuthorizedFetch,
  TokenRequestError,
  type ClientCertificate,
  type ClientCertificateCredentialOptions,
  type TokenEvent,
} from '@x/token';
import { certificateDir, expectNoSecrets, FAST_RETRY, type CertificateDir, type TestCertificate } from './support.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = 'a1b2c3d4-0000-4000-8000-000000000001';
const SCOPE = 'https://graph.microsoft.com/.default';
const SECRET = 'migration-only-s3cret~value';
const PASSPHRASE = 'pfx pässphrase';

let dir: CertificateDir;
let a: TestCertificate; // registered
let b: TestCertificate; // registered (the rotation target)
let unregistered: TestCertificate;
let credentialA: CertificateCredential;
let credentialB: CertificateCredential;
const servers: Array<{ close(): Promise<void> }> = [];
/** Every event of every credential in this file: checked for secrets at the end. */
const allEvents: TokenEvent[] = [];
const allErrors: unknown[] = [];

beforeAll(async () => {
  dir = await certificateDir();
  [a, b, unregistered] = await Promise.all([dir.make('a'), dir.make('b'), dir.make('unregistered')]);
  [credentialA, credentialB] = await Promise.all([loadCredentialFile(a.bundlePath), loadCredentialFile(b.bundlePath)]);
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  expectNoSecrets([allEvents, allErrors], [SECRET, PASSPHRASE, a.keyPem.split('\n')[1]!]);
  await dir?.remove();
});

async function entra(options: { tokenLifetimeSeconds?: number; refreshInSeconds?: number } = {}): Promise<EntraServer> {
  const server = await startEntraServer({
    tenantId: TENANT,
    clients: [{ clientId: CLIENT, certificates: [a.certPem, b.certPem], secret: SECRET }],
    ...options,
  });
  servers.push(server);
  return server;
}

function credential(server: EntraServer, options: ClientCertificateCredentialOptions = {}, certificate: ClientCertificate = a.bundlePath) {
  const events: TokenEvent[] = [];
  const logger = (e: TokenEvent) => {
    events.push(e);
    allEvents.push(e);
  };
  const c = new ClientCertificateCredential(TENANT, CLIENT, certificate, { authorityHost: server.url, retry: FAST_RETRY, logger, ...options });
  return { c, events };
}

async function failure(promise: Promise<unknown>): Promise<TokenRequestError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenRequestError);
  allErrors.push(error);
  return error as TokenRequestError;
}

const jtis = (server: EntraServer) => server.requests.map((r) => r.assertion?.claims.jti);

describe('the request (RFC 6749 §4.4.2, RFC 7523, Entra v2)', () => {
  test('exactly the documented form fields; a fresh PS256 assertion for this endpoint', async () => {
    const server = await entra();
    const { c } = credential(server);
    const token = await c.getToken(SCOPE);

    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request!.path).toBe(`/${TENANT}/oauth2/v2.0/token`);
    const { client_assertion: assertion, ...form } = request!.form;
    expect(form).toEqual({
      grant_type: 'client_credentials',
      client_id: CLIENT,
      scope: SCOPE,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    });
    expect(assertion).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(request!.assertion!.header).toEqual({
      alg: 'PS256',
      typ: 'JWT',
      x5t: credentialA.thumbprints.x5t,
      'x5t#S256': credentialA.thumbprints['x5t#S256'],
      kid: credentialA.kid,
    });
    const claims = request!.assertion!.claims;
    expect(claims).toMatchObject({ aud: server.tokenEndpoint('v2'), iss: CLIENT, sub: CLIENT });
    expect((claims.exp as number) - (claims.iat as number)).toBeLessThanOrEqual(330);

    expect(token).toEqual({
      token: server.issued[0]!.token,
      expiresOnTimestamp: expect.any(Number),
      refreshAfterTimestamp: expect.any(Number),
      tokenType: 'Bearer',
    });
    expect(Object.isFrozen(token)).toBe(true);
    expect(Math.abs(token.expiresOnTimestamp - (Date.now() + 3_599_000))).toBeLessThan(5_000);
    expect(token.refreshAfterTimestamp - (token.expiresOnTimestamp - 3_599_000)).toBeCloseTo(1_799_500, -2);
  });

  test('getTokenResponse: every field, from the same cache entry', async () => {
    const server = await entra({ refreshInSeconds: 600 });
    const { c } = credential(server);
    const response = await c.getTokenResponse(SCOPE);
    expect(response).toMatchObject({ tokenType: 'Bearer', expiresIn: 3599, extExpiresIn: 3599, refreshIn: 600 });
    expect(response.refreshAfterTimestamp - (response.expiresOnTimestamp - 3_599_000)).toBe(600_000);
    expect((await c.getToken(SCOPE)).token).toBe(response.accessToken);
    expect(server.requests).toHaveLength(1);
  });

  test('v1: resource from the .default scope, numbers as strings', async () => {
    const server = await entra();
    const { c } = credential(server, { endpointVersion: 'v1' });
    const response = await c.getTokenResponse('https://management.core.windows.net//.default');
    const request = server.requests[0]!;
    expect(request.path).toBe(`/${TENANT}/oauth2/token`);
    expect(request.form.resource).toBe('https://management.core.windows.net/');
    expect(request.form.scope).toBeUndefined();
    expect(request.assertion!.claims.aud).toBe(server.tokenEndpoint('v1'));
    expect(response).toMatchObject({ expiresIn: 3599, extExpiresIn: 3599, resource: 'https://management.core.windows.net/' });
    expect(typeof response.expiresOn).toBe('number');
    expect(typeof response.notBefore).toBe('number');
    expect((await failure(c.getToken(['https://a.example/.default', 'https://b.example/.default']))).code).toBe('ERR_INVALID_OPTIONS');
  });

  test('RS256 with x5t only, and the chain as x5c, when asked', async () => {
    const server = await entra();
    const { c } = credential(server, { algorithm: 'RS256', thumbprint: 'x5t', sendCertificateChain: true });
    await c.getToken(SCOPE);
    const header = server.requests[0]!.assertion!.header;
    expect(header).toMatchObject({ alg: 'RS256', x5t: credentialA.thumbprints.x5t });
    expect(header['x5t#S256']).toBeUndefined();
    expect(header.x5c).toEqual([Buffer.from(credentialA.leaf).toString('base64')]);
  });

  test('a PFX with a passphrase, from memory and from a path; never printed', async () => {
    const server = await entra();
    const pfx = await dir.pfx(a, PASSPHRASE);
    const fromBytes = new ClientCertificateCredential(TENANT, CLIENT, { certificate: pfx.bytes, passphrase: PASSPHRASE }, { authorityHost: server.url });
    const fromPath = new ClientCertificateCredential(TENANT, CLIENT, { certificatePath: pfx.path, passphrase: PASSPHRASE }, { authorityHost: server.url });
    const separateKey = new ClientCertificateCredential(TENANT, CLIENT, { certificate: a.certPem, privateKey: a.keyPem }, { authorityHost: server.url });
    const loaded = new ClientCertificateCredential(TENANT, CLIENT, credentialA, { authorityHost: server.url });
    await Promise.all([fromBytes.getToken(SCOPE), fromPath.getToken(SCOPE), separateKey.getToken(SCOPE), loaded.getToken(SCOPE)]);
    expect(server.requests.map((r) => r.assertion!.header['x5t#S256'])).toEqual(Array(4).fill(credentialA.thumbprints['x5t#S256']));
    expectNoSecrets([fromBytes, fromPath, separateKey, JSON.parse(JSON.stringify(fromPath))], [PASSPHRASE]);
    expect(JSON.stringify(fromPath)).toContain(credentialA.thumbprints.sha256Hex);
    expect(inspect(fromPath)).toContain("subject: 'CN=a'");
  });
});

describe('cache and single flight', () => {
  test('a hit does no I/O and returns the same frozen object', async () => {
    const server = await entra();
    const { c, events } = credential(server);
    const first = await c.getToken(SCOPE);
    const hits = await Promise.all(Array.from({ length: 1000 }, (_, i) => c.getToken(i % 2 ? SCOPE : [SCOPE])));
    expect(hits.every((t) => t === first)).toBe(true);
    expect(server.requests).toHaveLength(1);
    expect(events.filter((e) => e.type === 'cache-hit')).toHaveLength(1000);
    expect(events.filter((e) => e.type === 'request')).toHaveLength(1);
  });

  test('200 concurrent cold callers: ONE request', async () => {
    const server = await entra();
    const { c } = credential(server);
    const tokens = await Promise.all(Array.from({ length: 200 }, () => c.getToken(SCOPE)));
    expect(server.requests).toHaveLength(1);
    expect(new Set(tokens).size).toBe(1);
  });

  test('a distinct jti per request; one key per scope set', async () => {
    const server = await entra();
    const { c } = credential(server);
    const scopes = ['https://a.example/.default', 'https://b.example/.default', 'https://c.example/.default'];
    await Promise.all(scopes.map((s) => c.getToken(s)));
    await c.getToken(SCOPE, { forceRefresh: true });
    await c.getToken(SCOPE, { forceRefresh: true });
    expect(server.requests).toHaveLength(5);
    expect(new Set(jtis(server)).size).toBe(5);
  });

  test('refresh ahead of expiry: the cached token is served while one background request replaces it', async () => {
    const server = await entra();
    let clock = Date.now();
    const { c, events } = credential(server, { now: () => clock });
    const first = await c.getToken(SCOPE);
    clock = first.refreshAfterTimestamp + 1;
    const during = await Promise.all(Array.from({ length: 50 }, () => c.getToken(SCOPE)));
    expect(during.every((t) => t === first)).toBe(true);
    await vi.waitFor(() => expect(events.filter((e) => e.type === 'token')).toHaveLength(2), { timeout: 2000, interval: 5 });
    const second = await c.getToken(SCOPE);
    expect(second).not.toBe(first);
    expect(second.token).toBe(server.issued[1]!.token);
    expect(server.requests).toHaveLength(2);
  });

  test('the cached token is served while the server is down; never an expired one', async () => {
    const server = await entra();
    let clock = Date.now();
    const { c, events } = credential(server, { now: () => clock, refreshRetryMs: 30_000 });
    const first = await c.getToken(SCOPE);
    await server.close();

    clock = first.refreshAfterTimestamp + 1;
    expect(await c.getToken(SCOPE)).toBe(first);
    await vi.waitFor(() => expect(events.some((e) => e.type === 'refresh-failed')).toBe(true), { timeout: 3000, interval: 5 });
    const attempts = events.filter((e) => e.type === 'request').length;
    expect(attempts).toBe(1 + FAST_RETRY.maxAttempts);
    expect(events.find((e) => e.type === 'refresh-failed')).toMatchObject({ code: 'ERR_NETWORK', retryAt: clock + 30_000 });

    // No thundering herd: within the retry interval, callers get the cached token without a request.
    clock += 10_000;
    const served = await Promise.all(Array.from({ length: 100 }, () => c.getToken(SCOPE)));
    expect(served.every((t) => t === first)).toBe(true);
    expect(events.filter((e) => e.type === 'request')).toHaveLength(attempts);

    // Past expiry (minus the margin) it is never returned.
    clock = first.expiresOnTimestamp - 29_000;
    const error = await failure(c.getToken(SCOPE));
    expect(error).toMatchObject({ code: 'ERR_NETWORK', retryable: true, attempts: FAST_RETRY.maxAttempts });
  });

  test('abortSignal: the caller stops waiting, the shared request completes for the others', async () => {
    const server = await entra();
    const { c } = credential(server);
    server.fail({ kind: 'slow', delayMs: 400 });
    const controller = new AbortController();
    const started = performance.now();
    const aborted = failure(c.getToken(SCOPE, { abortSignal: controller.signal }));
    const patient = c.getToken(SCOPE);
    setTimeout(() => controller.abort(), 30);
    expect((await aborted).code).toBe('ERR_ABORTED');
    expect(performance.now() - started).toBeLessThan(300);
    expect((await patient).token).toBe(server.issued[0]!.token);
    expect(server.requests).toHaveLength(1);
    expect((await failure(c.getToken('https://x.example/.default', { abortSignal: AbortSignal.abort() }))).code).toBe('ERR_ABORTED');
  });
});

describe('errors (Entra AADSTS bodies): parsed, never retried', () => {
  test('unknown application: 400 unauthorized_client AADSTS700016 with trace and correlation ids', async () => {
    const server = await entra();
    const events: TokenEvent[] = [];
    const c = new ClientCertificateCredential(TENANT, 'ffffffff-0000-4000-8000-00000000dead', a.bundlePath, {
      authorityHost: server.url,
      retry: FAST_RETRY,
      logger: (e) => events.push(e),
    });
    const error = await failure(c.getToken(SCOPE));
    const sent = events.find((e) => e.type === 'request');
    expect(error).toMatchObject({
      code: 'ERR_OAUTH_ERROR',
      status: 400,
      error: 'unauthorized_client',
      errorCodes: [700016],
      retryable: false,
      attempts: 1,
      correlationId: sent?.type === 'request' ? sent.requestId : 'missing',
    });
    expect(error.traceId).toMatch(/^[0-9a-f-]{36}$/);
    expect(error.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    expect(error.errorDescription).toMatch(/^AADSTS700016:/);
    expect(server.requests).toHaveLength(1);
  });

  test('an unregistered certificate: 401 invalid_client AADSTS700027', async () => {
    const server = await entra();
    const { c } = credential(server, {}, unregistered.bundlePath);
    expect(await failure(c.getToken(SCOPE))).toMatchObject({ status: 401, error: 'invalid_client', errorCodes: [700027], retryable: false });
    expect(server.requests).toHaveLength(1);
  });

  test('a bad scope: 400 invalid_scope AADSTS70011', async () => {
    const server = await entra();
    const { c } = credential(server);
    expect(await failure(c.getToken('https://graph.microsoft.com/User.Read'))).toMatchObject({ status: 400, error: 'invalid_scope', errorCodes: [70011] });
    expect(server.requests).toHaveLength(1);
  });
});

describe('faults: retries, timeouts, broken answers', () => {
  test('503 twice, then a token: three requests, three jtis, spaced by the announced delays', async () => {
    const server = await entra();
    const { c, events } = credential(server);
    server.fail({ kind: 'status', status: 503 }, { kind: 'status', status: 503 });
    await c.getToken(SCOPE);
    expect(server.requests).toHaveLength(3);
    expect(new Set(jtis(server)).size).toBe(3);
    const retries = events.filter((e) => e.type === 'retry');
    expect(retries.map((e) => e.type === 'retry' && [e.attempt, e.status, e.code])).toEqual([
      [1, 503, 'ERR_OAUTH_ERROR'],
      [2, 503, 'ERR_OAUTH_ERROR'],
    ]);
    retries.forEach((e, i) => {
      const gap = server.requests[i + 1]!.receivedAt - server.requests[i]!.receivedAt;
      expect(gap).toBeGreaterThanOrEqual((e.type === 'retry' ? e.delayMs : 0) - 2);
    });
  });

  test('429 with Retry-After: 1 waits a second', async () => {
    const server = await entra();
    const { c } = credential(server);
    server.fail({ kind: 'status', status: 429, retryAfter: '1' });
    await c.getToken(SCOPE);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]!.receivedAt - server.requests[0]!.receivedAt).toBeGreaterThanOrEqual(995);
  });

  test('429 with an HTTP-date Retry-After', async () => {
    const server = await entra();
    const { c, events } = credential(server);
    server.fail({ kind: 'status', status: 429, retryAfter: new Date(Date.now() + 1000).toUTCString() });
    await c.getToken(SCOPE);
    expect(server.requests).toHaveLength(2);
    const retry = events.find((e) => e.type === 'retry');
    expect(retry?.type === 'retry' && retry.delayMs).toBeLessThanOrEqual(1000);
  });

  test('429 with a Retry-After beyond the budget: fail now, and leave the server alone until then', async () => {
    const server = await entra();
    const { c } = credential(server);
    server.fail({ kind: 'status', status: 429, retryAfter: '120' });
    const first = await failure(c.getToken(SCOPE));
    expect(first).toMatchObject({ code: 'ERR_OAUTH_ERROR', status: 429, errorCodes: [90055], retryAfterMs: 120_000, attempts: 1 });
    const started = performance.now();
    expect(await failure(c.getToken(SCOPE))).toBe(first);
    expect(performance.now() - started).toBeLessThan(200);
    expect(server.requests).toHaveLength(1);
    await c.getToken('https://other.example/.default'); // other keys are not held back
    expect(server.requests).toHaveLength(2);
  });

  test('503 every time: bounded attempts, then the last error', async () => {
    const server = await entra();
    const { c } = credential(server);
    server.fail(...Array.from({ length: 10 }, () => ({ kind: 'status' as const, status: 503 })));
    const error = await failure(c.getToken(SCOPE));
    expect(error).toMatchObject({ code: 'ERR_OAUTH_ERROR', status: 503, retryable: true, attempts: 4, errorCodes: [90033] });
    expect(server.requests).toHaveLength(4);
  });

  test('a slow answer: ERR_TIMEOUT per attempt; the retry succeeds', async () => {
    const server = await entra();
    const single = credential(server, { timeoutMs: 150, retry: { maxAttempts: 1 } }).c;
    server.fail({ kind: 'slow', delayMs: 1000 });
    const started = performance.now();
    expect(await failure(single.getToken(SCOPE))).toMatchObject({ code: 'ERR_TIMEOUT', retryable: true });
    expect(performance.now() - started).toBeLessThan(600);

    const retrying = credential(server, { timeoutMs: 150 }).c;
    server.fail({ kind: 'slow', delayMs: 1000 });
    await retrying.getToken(SCOPE);
    expect(server.requests).toHaveLength(3);
  });

  test('a body dripping slower than the timeout: ERR_TIMEOUT', async () => {
    const server = await entra();
    const { c } = credential(server, { timeoutMs: 200, retry: { maxAttempts: 1 } });
    server.fail({ kind: 'drip', intervalMs: 100, chunks: 20 });
    expect((await failure(c.getToken(SCOPE))).code).toBe('ERR_TIMEOUT');
  });

  test('an HTML 502 from a proxy: status, content type, first bytes; retried', async () => {
    const server = await entra();
    const single = credential(server, { retry: { maxAttempts: 1 } }).c;
    server.fail({ kind: 'html', status: 502 });
    const error = await failure(single.getToken(SCOPE));
    expect(error).toMatchObject({ code: 'ERR_NON_JSON_RESPONSE', status: 502, contentType: 'text/html; charset=utf-8', retryable: true });
    expect(error.bodyPreview).toContain('502 Bad Gateway');
    expect(error.message).toContain('502 Bad Gateway');

    server.fail({ kind: 'html', status: 502 });
    await credential(server).c.getToken(SCOPE);
    expect(server.requests).toHaveLength(3);
  });

  test('200 without access_token: ERR_NO_ACCESS_TOKEN, not retried', async () => {
    const server = await entra();
    const { c } = credential(server);
    server.fail({ kind: 'no-token' });
    expect(await failure(c.getToken(SCOPE))).toMatchObject({ code: 'ERR_NO_ACCESS_TOKEN', status: 200, retryable: false });
    expect(server.requests).toHaveLength(1);
  });

  test('truncated JSON: ERR_NON_JSON_RESPONSE, the partial token redacted', async () => {
    const server = await entra();
    const { c } = credential(server);
    server.fail({ kind: 'invalid-json' });
    const error = await failure(c.getToken(SCOPE));
    expect(error).toMatchObject({ code: 'ERR_NON_JSON_RESPONSE', status: 200 });
    expect(error.bodyPreview).toContain('"access_token":"[redacted]');
  });

  test('an oversize body: ERR_RESPONSE_TOO_LARGE, abandoned while streaming', async () => {
    const server = await entra();
    const { c } = credential(server, { maxResponseBytes: 64 * 1024 });
    server.fail({ kind: 'oversize', bytes: 8 * 1024 * 1024 });
    expect(await failure(c.getToken(SCOPE))).toMatchObject({ code: 'ERR_RESPONSE_TOO_LARGE', retryable: false });
    expect(server.requests).toHaveLength(1);
  });

  test('a connection reset mid-body: ERR_NETWORK, retried', async () => {
    const server = await entra();
    server.fail({ kind: 'reset' });
    expect(await failure(credential(server, { retry: { maxAttempts: 1 } }).c.getToken(SCOPE))).toMatchObject({ code: 'ERR_NETWORK', retryable: true });
    server.fail({ kind: 'reset' });
    await credential(server).c.getToken(SCOPE);
    expect(server.requests).toHaveLength(3);
  });

  test.each([
    ['absent', undefined],
    ['text', 'soon'],
    ['negative', -1],
    ['null', null],
  ])('expires_in %s: ERR_INVALID_TOKEN_RESPONSE', async (_, value) => {
    const server = await entra();
    server.fail({ kind: 'expires-in', value });
    expect((await failure(credential(server).c.getToken(SCOPE))).code).toBe('ERR_INVALID_TOKEN_RESPONSE');
  });

  test('expires_in as a string on v2 is accepted', async () => {
    const server = await entra();
    server.fail({ kind: 'expires-in', value: '120' });
    const response = await credential(server).c.getTokenResponse(SCOPE);
    expect(response.expiresIn).toBe(120);
  });
});

describe('certificate rotation without restart', () => {
  test('a replaced file is used at the next signing; a broken one is ignored with an event', async () => {
    const server = await entra();
    const path = join(dir.path, 'rotating.pem');
    await writeFile(path, a.bundlePem);
    const { c, events } = credential(server, { certificateCheckIntervalMs: 0 }, path);
    const thumbprint = (i: number) => server.requests[i]!.assertion!.header['x5t#S256'];

    await c.getToken('https://one.example/.default');
    expect(thumbprint(0)).toBe(credentialA.thumbprints['x5t#S256']);

    await writeFile(`${path}.tmp`, b.bundlePem);
    await rename(`${path}.tmp`, path); // atomic replace, as secret syncers do
    await c.getToken('https://two.example/.default');
    expect(thumbprint(1)).toBe(credentialB.thumbprints['x5t#S256']);
    expect(events.filter((e) => e.type === 'rotation')).toEqual([
      expect.objectContaining({
        path,
        previousThumbprint: credentialA.thumbprints['x5t#S256'],
        thumbprint: credentialB.thumbprints['x5t#S256'],
      }),
    ]);

    await writeFile(path, '-----BEGIN CERTIFICATE-----\nhalf written');
    await c.getToken('https://three.example/.default');
    expect(thumbprint(2)).toBe(credentialB.thumbprints['x5t#S256']);
    expect(events.find((e) => e.type === 'rotation-failed')).toMatchObject({ path, code: expect.stringMatching(/^ERR_/) });
    // Cached tokens survive rotation.
    await c.getToken('https://one.example/.default');
    expect(server.requests).toHaveLength(3);
  });

  test("a Kubernetes Secret volume: the kubelet's `..data` symlink swap is picked up", async () => {
    // The layout the kubelet writes: client.pem -> ..data/client.pem, ..data -> ..<timestamp>/
    const volume = join(dir.path, 'secret-volume');
    await mkdir(join(volume, '..2026_12_03_01'), { recursive: true });
    await writeFile(join(volume, '..2026_12_03_01', 'client.pem'), a.bundlePem);
    await symlink('..2026_12_03_01', join(volume, '..data'));
    await symlink(join('..data', 'client.pem'), join(volume, 'client.pem'));
    const server = await entra();
    const { c, events } = credential(server, { certificateCheckIntervalMs: 0 }, join(volume, 'client.pem'));
    await c.getToken('https://one.example/.default');

    // An update: a new timestamped directory, then ..data replaced atomically by rename(2).
    await mkdir(join(volume, '..2026_12_03_02'));
    await writeFile(join(volume, '..2026_12_03_02', 'client.pem'), b.bundlePem);
    await symlink('..2026_12_03_02', join(volume, '..data_tmp'));
    await rename(join(volume, '..data_tmp'), join(volume, '..data'));
    await rm(join(volume, '..2026_12_03_01'), { recursive: true });
    await c.getToken('https://two.example/.default');

    expect(server.requests.map((r) => r.assertion!.header['x5t#S256'])).toStrictEqual([
      credentialA.thumbprints['x5t#S256'],
      credentialB.thumbprints['x5t#S256'],
    ]);
    expect(events.filter((e) => e.type === 'rotation')).toHaveLength(1);
  });

  test('a PFX and its passphrase in one Secret (passphraseFile): both rotate together', async () => {
    const volume = join(dir.path, 'secret-volume-pfx');
    const version = async (name: string, certificate: TestCertificate, passphrase: string) => {
      await mkdir(join(volume, name), { recursive: true });
      await writeFile(join(volume, name, 'client.pfx'), (await dir.pfx(certificate, passphrase)).bytes);
      await writeFile(join(volume, name, 'passphrase'), `${passphrase}\n`);
    };
    await version('..v1', a, 'first-passphrase');
    await symlink('..v1', join(volume, '..data'));
    for (const file of ['client.pfx', 'passphrase']) await symlink(join('..data', file), join(volume, file));
    const server = await entra();
    const { c, events } = credential(server, { certificateCheckIntervalMs: 0 }, {
      certificatePath: join(volume, 'client.pfx'),
      passphraseFile: join(volume, 'passphrase'),
    });
    await c.getToken('https://one.example/.default');
    await version('..v2', b, 'second-passphrase');
    await symlink('..v2', join(volume, '..data_tmp'));
    await rename(join(volume, '..data_tmp'), join(volume, '..data'));
    await c.getToken('https://two.example/.default');
    expect(server.requests.map((r) => r.assertion!.header['x5t#S256'])).toStrictEqual([
      credentialA.thumbprints['x5t#S256'],
      credentialB.thumbprints['x5t#S256'],
    ]);
    expect(events.filter((e) => e.type === 'rotation-failed')).toStrictEqual([]);
    expect(JSON.stringify([events, c])).not.toMatch(/first-passphrase|second-passphrase/);
  });

  test('the file is checked at most once per interval', async () => {
    const server = await entra();
    const path = join(dir.path, 'rotating-slow.pem');
    await writeFile(path, a.bundlePem);
    let clock = Date.now();
    const { c } = credential(server, { certificateCheckIntervalMs: 60_000, now: () => clock }, path);
    await c.getToken('https://one.example/.default');
    await writeFile(path, b.bundlePem);
    await c.getToken('https://two.example/.default');
    clock += 60_000;
    await c.getToken('https://three.example/.default');
    expect(server.requests.map((r) => r.assertion!.header['x5t#S256'])).toEqual([
      credentialA.thumbprints['x5t#S256'],
      credentialA.thumbprints['x5t#S256'],
      credentialB.thumbprints['x5t#S256'],
    ]);
  });
});

describe('the other credentials', () => {
  test('ClientAssertionCredential: the callback is asked for each attempt', async () => {
    const server = await entra();
    const contexts: unknown[] = [];
    const c = new ClientAssertionCredential(
      TENANT,
      CLIENT,
      (context) => {
        contexts.push(context);
        return createClientAssertion(credentialA, { clientId: context.clientId, audience: context.tokenEndpoint });
      },
      { authorityHost: server.url, retry: FAST_RETRY },
    );
    server.fail({ kind: 'status', status: 503 });
    await c.getToken(SCOPE);
    expect(contexts).toEqual(Array(2).fill({ clientId: CLIENT, tokenEndpoint: server.tokenEndpoint('v2') }));
    expect(new Set(jtis(server)).size).toBe(2);

    const broken = new ClientAssertionCredential(
      TENANT,
      CLIENT,
      () => {
        throw new Error('signer refused eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl');
      },
      { authorityHost: server.url },
    );
    const error = await failure(broken.getToken(SCOPE));
    expect(error.code).toBe('ERR_ASSERTION_CALLBACK');
    expect((error.cause as Error).message).toBe('signer refused [redacted]');
  });

  test('ClientSecretCredential: works, and the secret is never shown', async () => {
    const server = await entra();
    const events: TokenEvent[] = [];
    const c = new ClientSecretCredential(TENANT, CLIENT, SECRET, { authorityHost: server.url, logger: (e) => events.push(e) });
    await c.getToken(SCOPE);
    expect(server.requests[0]!.form).toEqual({ grant_type: 'client_credentials', client_id: CLIENT, scope: SCOPE, client_secret: SECRET });

    const wrong = new ClientSecretCredential(TENANT, CLIENT, `${SECRET}-wrong`, { authorityHost: server.url });
    const error = await failure(wrong.getToken(SCOPE));
    expect(error).toMatchObject({ status: 401, error: 'invalid_client', errorCodes: [7000215] });
    expectNoSecrets([c, wrong, events, error, inspect(c, { showHidden: true })], [SECRET]);
  });
});

test('createAuthorizedFetch: bearer token on the resource; a 401 refreshes once', async () => {
  const server = await entra();
  const api = await startResourceServer({ jwksUri: server.jwksUri, issuer: server.issuer('v2'), audience: 'https://graph.microsoft.com' });
  servers.push(api);
  const { c } = credential(server);

  const call = createAuthorizedFetch(c, SCOPE);
  const ok = await call(`${api.url}/v1.0/me`);
  expect(ok.status).toBe(200);
  expect(await ok.json()).toMatchObject({ ok: true, client_id: CLIENT });
  expect((await call(`${api.url}/v1.0/me`)).status).toBe(200);
  expect(server.requests).toHaveLength(1);

  const sent: string[] = [];
  let rejectOnce = true;
  const flaky = createAuthorizedFetch(c, SCOPE, {
    fetch: async (input, init) => {
      sent.push(new Headers(init?.headers).get('authorization')!);
      if (rejectOnce) {
        rejectOnce = false;
        return new Response('{}', { status: 401 });
      }
      return fetch(input, init);
    },
  });
  expect((await flaky(`${api.url}/v1.0/me`)).status).toBe(200);
  expect(sent).toHaveLength(2);
  expect(sent[0]).not.toBe(sent[1]);
  expect(sent[1]).toBe(`Bearer ${server.issued[1]!.token}`);
});
