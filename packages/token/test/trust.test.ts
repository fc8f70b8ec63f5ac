/**
 * Issue 10, token requests: redact first then cut, short secrets, the
 * `Retry-After` cap, malformed error bodies, the resource URL policy, short
 * tokens through an outage, one sanitiser. Each fails on the code before it.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { startEntraServer, startResourceServer, type EntraServer } from '@x/devserver';
import { ClientSecretCredential, createAuthorizedFetch, TokenRequestError, type TokenEvent } from '@x/token';
import { sanitizeError } from '../src/redact.js';
import { MAX_RETRY_AFTER_MS } from '../src/retry.js';
import { FAST_RETRY, recordEvents } from './support.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = 'a1b2c3d4-0000-4000-8000-0000000074a5';
const SCOPE = 'https://graph.microsoft.com/.default';
const SECRET = 'Cs-straddling-secret-0123456789abcdefghijklmnop';

const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function entra(options: { tokenLifetimeSeconds?: number } = {}): Promise<EntraServer> {
  const server = await startEntraServer({ tenantId: TENANT, clients: [{ clientId: CLIENT, secret: SECRET, certificates: [] }], ...options });
  servers.push(server);
  return server;
}

/** A server answering every request with `answer` (the transport's peer, not the code under test). */
const answering = (answer: () => Response): typeof globalThis.fetch => async () => answer();

const secretCredential = (secret: string, fetch: typeof globalThis.fetch) =>
  new ClientSecretCredential(TENANT, CLIENT, secret, { tokenEndpoint: 'https://login.example/token', retry: { maxAttempts: 1 }, fetch });

async function failure(promise: Promise<unknown>): Promise<TokenRequestError> {
  const error = await promise.then(() => expect.fail('expected a failure'), (e: unknown) => e);
  expect(error).toBeInstanceOf(TokenRequestError);
  return error as TokenRequestError;
}

describe('redaction', () => {
  test('a secret straddling the old 4,096-byte cut leaves no prefix in bodyPreview or the message', async () => {
    // Whitespace collapses in the preview: what stood at byte ~4,080 comes first.
    const body = `<p>${' '.repeat(4_080)}${SECRET}</p>`;
    const c = secretCredential(SECRET, answering(() => new Response(body, { status: 502, headers: { 'content-type': 'text/html' } })));
    const error = await failure(c.getToken(SCOPE));
    expect(error.code).toBe('ERR_NON_JSON_RESPONSE');
    expect(error.bodyPreview).toContain('[redacted]');
    for (const text of [error.bodyPreview!, error.message]) expect(text).not.toContain(SECRET.slice(0, 8));
  });

  test('a secret shorter than 8 characters is redacted too', async () => {
    const short = 'k9$Qz';
    const c = secretCredential(short, answering(() => Response.json({ error: 'invalid_client', error_description: `bad secret ${short}` }, { status: 401 })));
    const error = await failure(c.getToken(SCOPE));
    expect(error.errorDescription).toBe('bad secret [redacted]');
    expect(error.message).not.toContain(short);
  });

  test('one sanitiser: an external error keeps name, code and a redacted message, two causes deep', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const deep = Object.assign(new Error(`HSM said ${jwt}`, { cause: new Error(`inner ${SECRET}`, { cause: new Error('third') }) }), {
      code: 'E_HSM',
      key: { secret: SECRET },
    });
    const clean = sanitizeError(deep, [SECRET]);
    expect(clean).toMatchObject({ name: 'Error', code: 'E_HSM', message: 'HSM said [redacted]' });
    expect((clean as { key?: unknown }).key).toBeUndefined();
    expect((clean.cause as Error).message).toBe('inner [redacted]');
    expect(((clean.cause as Error).cause as Error).message).toBe('third');
    const credentialError = Object.assign(new Error(`could not read ${jwt}`), { name: 'CredentialError', code: 'ERR_FILE_READ' });
    expect(sanitizeError(credentialError)).toBe(credentialError);
    expect(credentialError.message).toBe('could not read [redacted]');
    expect(credentialError.stack).not.toContain(jwt);
  });
});

describe('malformed answers are typed errors', () => {
  test.each([200, 400, 500])('{"error":""} with HTTP %i: ERR_UNEXPECTED_RESPONSE, never a ZodError', async (status) => {
    const c = secretCredential(SECRET, answering(() => Response.json({ error: '' }, { status })));
    expect((await failure(c.getToken(SCOPE))).code).toBe('ERR_UNEXPECTED_RESPONSE');
  });

  test('an error body with error_codes of the wrong shape is still an OAuth error', async () => {
    const c = secretCredential(SECRET, answering(() => Response.json({ error: 'invalid_scope', error_codes: 'x' }, { status: 400 })));
    expect(await failure(c.getToken(SCOPE))).toMatchObject({ code: 'ERR_OAUTH_ERROR', error: 'invalid_scope', errorCodes: undefined });
  });
});

describe('Retry-After is capped at one hour', () => {
  test('a ten-year Retry-After (seconds and HTTP date) waits one hour; forceRefresh after it is possible', async () => {
    const tenYears = String(10 * 365 * 24 * 3600);
    let clock = Date.now();
    let calls = 0;
    const answers = [
      () => Response.json({ error: 'temporarily_unavailable' }, { status: 429, headers: { 'retry-after': tenYears } }),
      () => Response.json({ error: 'temporarily_unavailable' }, { status: 429, headers: { 'retry-after': 'Fri, 01 Jan 2100 00:00:00 GMT' } }),
      () => Response.json({ token_type: 'Bearer', expires_in: 3599, access_token: 'at' }),
    ];
    const c = new ClientSecretCredential(TENANT, CLIENT, SECRET, {
      tokenEndpoint: 'https://login.example/token',
      retry: { maxAttempts: 1 },
      now: () => clock,
      fetch: async () => answers[calls++]!(),
    });
    expect((await failure(c.getToken(SCOPE))).retryAfterMs).toBe(MAX_RETRY_AFTER_MS);
    // Within the hour: refused without a request, forceRefresh too.
    expect((await failure(c.getToken(SCOPE, { forceRefresh: true }))).retryAfterMs).toBe(MAX_RETRY_AFTER_MS);
    expect(calls).toBe(1);
    clock += MAX_RETRY_AFTER_MS;
    expect((await failure(c.getToken(SCOPE))).retryAfterMs).toBe(MAX_RETRY_AFTER_MS);
    clock += MAX_RETRY_AFTER_MS;
    expect((await c.getToken(SCOPE, { forceRefresh: true })).token).toBe('at');
    expect(calls).toBe(3);
  });
});

describe('createAuthorizedFetch: the URL policy of the token endpoint', () => {
  test('plain http:// off loopback is refused before a token is fetched; https and loopback http pass', async () => {
    let tokens = 0;
    const source = { getToken: async () => (tokens++, { token: 't', expiresOnTimestamp: Date.now() + 3_600_000, refreshAfterTimestamp: 0, tokenType: 'Bearer' as const }) };
    const sent: string[] = [];
    const api = createAuthorizedFetch(source, SCOPE, { fetch: async (input) => (sent.push(String(input)), new Response('ok')) });
    for (const url of ['http://api.example.com/data', 'ftp://api.example.com/', 'https://user:pw@api.example.com/']) {
      await expect(api(url)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTIONS' });
    }
    expect(tokens).toBe(0);
    await api('https://api.example.com/data');
    await api('http://127.0.0.1:1/data');
    expect(sent).toEqual(['https://api.example.com/data', 'http://127.0.0.1:1/data']);
  });

  test('against the dev resource server on loopback', async () => {
    const server = await entra();
    const resource = await startResourceServer({ jwksUri: server.jwksUri, issuer: server.issuer('v2'), audience: 'https://graph.microsoft.com' });
    servers.push(resource);
    const c = new ClientSecretCredential(TENANT, CLIENT, SECRET, { authorityHost: server.url, retry: FAST_RETRY });
    const api = createAuthorizedFetch(c, SCOPE);
    expect((await api(`${resource.url}/v1.0/me`)).status).toBe(200);
  });
});

describe('short-lived tokens: margin min(30 s, a quarter of the lifetime)', () => {
  test('a 12 s token is served from the cache through a 503 outage until 9 s, never after', async () => {
    const server = await entra({ tokenLifetimeSeconds: 12 });
    let clock = Date.now();
    const { events, logger } = recordEvents();
    const c = new ClientSecretCredential(TENANT, CLIENT, SECRET, {
      authorityHost: server.url,
      retry: { maxAttempts: 1 },
      now: () => clock,
      logger,
      refreshRetryMs: 1_000,
    });
    const first = await c.getToken(SCOPE);
    expect(first.expiresOnTimestamp - clock).toBeGreaterThanOrEqual(11_000);
    expect(await c.getToken(SCOPE)).toBe(first); // usable at once: the fixed 30 s margin made every call a request
    expect(server.requests).toHaveLength(1);

    server.fail(...Array.from({ length: 20 }, () => ({ kind: 'status' as const, status: 503 })));
    clock += 7_000; // past the refresh time (6 s), before the end of usability (9 s)
    expect(await c.getToken(SCOPE)).toBe(first);
    for (let i = 0; i < 1_000 && !events.some((e) => e.type === 'refresh-failed'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(events.find((e): e is Extract<TokenEvent, { type: 'refresh-failed' }> => e.type === 'refresh-failed')?.code).toBe('ERR_OAUTH_ERROR');
    clock += 1_500; // 8.5 s: still usable
    expect(await c.getToken(SCOPE)).toBe(first);
    clock += 1_000; // 9.5 s: within the 3 s margin: never served
    await expect(c.getToken(SCOPE)).rejects.toMatchObject({ status: 503 });
  });
});
