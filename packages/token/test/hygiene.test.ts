/**
 * Secret hygiene, proven: every error path of `@x/token` run with sentinel
 * values as passphrase, private key, client secret, client assertion and
 * access token, and none of them may appear in any error message or stack,
 * anywhere in an error's `cause` chain, in `util.inspect` / `JSON.stringify`
 * of credentials, tokens and errors, or in any event (the `logger` option and
 * the `x-token` diagnostics channel).
 *
 * Hostile or buggy servers are included: OAuth error bodies, HTML pages,
 * redirects, broken token answers and transport errors that echo the
 * assertion, the secret or a token back. The rule this suite holds the
 * library to: JWT-shaped strings, the credential the request itself sent
 * (assertion or secret) and the values of token-bearing members
 * (`access_token`, `client_assertion`, `client_secret`, …) are redacted from
 * everything the server said before it is kept.
 *
 * Every sentinel carries the marker `SENTINEL` (base64 of it for the key), so
 * a partial leak (a prefix, a slice) is caught as well as a whole one.
 */
import { execFile } from 'node:child_process';
import diagnostics_channel from 'node:diagnostics_channel';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect, promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startEntraServer, type EntraServer } from '@x/devserver';
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  TOKEN_DIAGNOSTICS_CHANNEL,
  TokenRequestError,
  type ClientCredentialsGrantCredential,
  type TokenCredentialOptions,
  type TokenEvent,
} from '@x/token';
import { certificateDir, type CertificateDir, type TestCertificate } from './support.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = 'a1b2c3d4-0000-4000-8000-0000000049e1';
const SCOPE = 'https://graph.microsoft.com/.default';
const MARKER = 'SENTINEL';

const PASSPHRASE = 'Pp-SENTINEL-passphrase-1f6b';
const WRONG_PASSPHRASE = 'Pp-SENTINEL-wrong-passphrase-0a4d';
const SECRET = 'Cs-SENTINEL-client~secret-8d2e';
/** A JWT-shaped client assertion (what federation hands over). */
const ASSERTION_JWT = 'eyJhbGciOiJQUzI1NiIsInR5cCI6IkpXVCJ9.eyJzSENTINELassertionPayload.SENTINELassertionSignature_x-y';
/** An opaque client assertion (a vendor token: not JWT-shaped). */
const ASSERTION_OPAQUE = 'As-SENTINEL-opaque-assertion-3c9a';
const ACCESS_JWT = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhSENTINELaccessPayload.SENTINELaccessSignature';
const ACCESS_OPAQUE = 'At-SENTINEL-opaque-access-token-77e0';
/** Base64 inside a PEM private key block that is not a key. */
const KEY_MARKER = 'S0VZU0VOVElORUxrZXltYXRlcmlhbA';
const BAD_KEY_PEM = `-----BEGIN PRIVATE KEY-----\n${KEY_MARKER}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n-----END PRIVATE KEY-----\n`;

let dir: CertificateDir;
let cert: TestCertificate;
let other: TestCertificate;
let pfx: { path: string; bytes: Uint8Array };
let encryptedKeyPem: string;
let server: EntraServer;

/** Everything a leak could be: the fixed sentinels, the key's base64 lines, every assertion sent and every token issued. */
const sentinels = new Map<string, string>([
  ['passphrase', PASSPHRASE],
  ['wrong passphrase', WRONG_PASSPHRASE],
  ['client secret', SECRET],
  ['assertion (JWT)', ASSERTION_JWT],
  ['assertion (opaque)', ASSERTION_OPAQUE],
  ['access token (JWT)', ACCESS_JWT],
  ['access token (opaque)', ACCESS_OPAQUE],
  ['key material', KEY_MARKER],
]);
const sentAssertions: string[] = [];
const events: TokenEvent[] = [];
const channelEvents: unknown[] = [];
const onChannel = (message: unknown) => channelEvents.push(message);
let checks = 0;
let subjects = 0;

beforeAll(async () => {
  diagnostics_channel.subscribe(TOKEN_DIAGNOSTICS_CHANNEL, onChannel);
  dir = await certificateDir();
  [cert, other] = await Promise.all([dir.make('hygiene'), dir.make('other')]);
  pfx = await dir.pfx(cert, PASSPHRASE);
  const encryptedPath = join(dir.path, 'encrypted.key.pem');
  await promisify(execFile)('openssl', ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', cert.keyPath, '-out', encryptedPath, '-passout', `pass:${PASSPHRASE}`]);
  encryptedKeyPem = await readFile(encryptedPath, 'utf8');
  await writeFile(join(dir.path, 'encrypted-bundle.pem'), cert.certPem + encryptedKeyPem);
  for (const [i, line] of keyLines(cert.keyPem).entries()) sentinels.set(`private key line ${i}`, line);
  for (const [i, line] of keyLines(other.keyPem).entries()) sentinels.set(`other private key line ${i}`, line);
  for (const [i, line] of keyLines(encryptedKeyPem).entries()) sentinels.set(`encrypted key line ${i}`, line);
  server = await startEntraServer({ tenantId: TENANT, clients: [{ clientId: CLIENT, certificates: [cert.certPem], secret: SECRET }] });
});

afterAll(async () => {
  diagnostics_channel.unsubscribe(TOKEN_DIAGNOSTICS_CHANNEL, onChannel);
  await server?.close();
  await dir?.remove();
});

/** The base64 lines of a PEM private key (64 characters each, the last one shorter). */
function keyLines(pem: string): string[] {
  return pem.split('\n').filter((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l));
}

/** Every secret known so far: fixed sentinels, assertions the client sent, tokens the servers issued. */
function secrets(): Array<[string, string]> {
  const all = [...sentinels];
  for (const [i, a] of sentAssertions.entries()) all.push([`sent assertion ${i}`, a], [`sent assertion ${i} signature`, a.split('.')[2] ?? a]);
  for (const [i, t] of server.issued.entries()) all.push([`issued token ${i}`, t.token], [`issued token ${i} signature`, t.token.split('.')[2]!]);
  for (const request of server.requests) {
    const a = request.form['client_assertion'];
    if (a !== undefined && a.includes('.')) all.push(['assertion the devserver received', a]);
  }
  return all;
}

/** The views of a value a log line could show. Errors: message, stack, inspect, JSON, and each link of the cause chain. */
function views(value: unknown): Array<[string, string]> {
  const out: Array<[string, string]> = [
    ['inspect', inspect(value, { depth: 20, showHidden: true, getters: true })],
    ['inspect (no custom)', inspect(value, { depth: 20, showHidden: true, customInspect: false })],
    ['JSON.stringify', (() => {
      try {
        return JSON.stringify(value) ?? '';
      } catch (e) {
        return String(e);
      }
    })()],
    ['String', String(value)],
  ];
  let link: unknown = value;
  for (let depth = 0; link instanceof Error && depth < 10; depth++, link = link.cause) {
    out.push([`cause[${depth}].message`, link.message], [`cause[${depth}].stack`, link.stack ?? '']);
    for (const [k, v] of Object.entries(link)) if (typeof v === 'string') out.push([`cause[${depth}].${k}`, v]);
  }
  return out;
}

/**
 * Assert no secret (but `allowed`, e.g. the token a token object carries) is
 * in any view of `value`, nor the marker, nor anything JWT-shaped; count the checks.
 */
function expectClean(label: string, value: unknown, allowed: readonly string[] = []): void {
  subjects++;
  const known = secrets().filter(([, s]) => !allowed.some((a) => a.includes(s)));
  for (const [view, text] of views(value)) {
    for (const [name, secret] of known) {
      checks++;
      if (text.includes(secret)) expect.fail(`${label}: ${view} contains the ${name}:\n${text.slice(0, 2000)}`);
    }
    const stripped = allowed.reduce((t, a) => t.split(a).join(''), text);
    checks += 2;
    if (stripped.includes(MARKER)) expect.fail(`${label}: ${view} contains part of a sentinel:\n${text.slice(0, 2000)}`);
    if (/eyJ[\w-]{8,}/.test(stripped)) expect.fail(`${label}: ${view} contains something JWT-shaped:\n${text.slice(0, 2000)}`);
  }
}

const options = (extra: TokenCredentialOptions = {}): TokenCredentialOptions => ({
  authorityHost: server.url,
  retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 10_000 },
  timeoutMs: 5_000,
  logger: (e) => events.push(e),
  ...extra,
});

/** The three credentials, each with sentinel material. */
function credentials(extra: TokenCredentialOptions = {}): Array<[string, ClientCredentialsGrantCredential, string]> {
  return [
    ['certificate (PFX + passphrase)', new ClientCertificateCredential(TENANT, CLIENT, { certificate: pfx.bytes, passphrase: PASSPHRASE }, options(extra)), ''],
    ['assertion (JWT)', new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION_JWT, options(extra)), ASSERTION_JWT],
    ['assertion (opaque)', new ClientAssertionCredential(TENANT, CLIENT, async () => ASSERTION_OPAQUE, options(extra)), ASSERTION_OPAQUE],
    ['secret', new ClientSecretCredential(TENANT, CLIENT, SECRET, options(extra)), SECRET],
  ];
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => expect.fail('expected a failure'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  return expect.fail('expected a throw');
}

/** What the client sent, as a form body, for a server that echoes it. */
function sentForm(init: RequestInit | undefined): URLSearchParams {
  const form = new URLSearchParams(String(init?.body));
  const a = form.get('client_assertion');
  if (a !== null && !sentAssertions.includes(a)) sentAssertions.push(a);
  return form;
}

/** A stand-in token endpoint answering `answer(form, raw)` with a real Response. */
function echoing(answer: (form: URLSearchParams, raw: string) => Response): typeof globalThis.fetch {
  return async (_input, init) => answer(sentForm(init), String(init?.body));
}

/** The request's own credential, for echoes. */
const credentialOf = (form: URLSearchParams) => form.get('client_assertion') ?? form.get('client_secret') ?? '';

describe('hostile servers echo the credential back', () => {
  test("OAuth error bodies (devserver kind:'status') with the assertion / secret / a token in every field", async () => {
    for (const [name, c, own] of credentials()) {
      const echo = own === '' ? ASSERTION_JWT : own;
      server.fail({
        kind: 'status',
        status: 401,
        body: {
          error: `invalid_client ${echo}`,
          error_description: `AADSTS700027: Client assertion ${echo} is invalid; previous token ${ACCESS_JWT}.\r\nTrace ID: x`,
          error_codes: [700027],
          trace_id: echo,
          correlation_id: ACCESS_JWT,
          timestamp: `${echo} 2026-01-01 00:00:00Z`,
        },
      });
      const error = await failure(c.getToken(SCOPE));
      expect(error).toMatchObject({ code: 'ERR_OAUTH_ERROR', status: 401, errorCodes: [700027] });
      expect((error as TokenRequestError).errorDescription).toContain('[redacted]');
      expect(error.message).toMatch(/^The token endpoint answered HTTP 401 invalid_client \[redacted\]: AADSTS700027: Client assertion \[redacted\]/);
      expectClean(`OAuth error echo (${name})`, error);
      expectClean(`credential after OAuth error echo (${name})`, c);
    }
  });

  test('the same echo in a 503 during a background refresh: refresh-failed events stay clean', async () => {
    let clock = Date.now();
    const [, c] = credentials({ now: () => clock })[0]!;
    const token = await c.getToken(SCOPE);
    server.fail(
      ...[0, 1].map(() => ({
        kind: 'status' as const,
        status: 503,
        body: { error: 'temporarily_unavailable', error_description: `busy; your assertion was ${ASSERTION_JWT} and token ${token.token}` },
      })),
    );
    clock = token.refreshAfterTimestamp + 1;
    const before = events.length;
    expect(await c.getToken(SCOPE)).toBe(token);
    await expect.poll(() => events.slice(before).some((e) => e.type === 'refresh-failed'), { timeout: 20_000, interval: 5 }).toBe(true);
    expectClean('refresh-failed events', events.slice(before));
    expectClean('the cached token itself', token, [token.token]);
    expectClean('credential holding a cached token', c);
  });

  test('an HTML page echoing the raw form body (assertion, secret) and a token', async () => {
    for (const [name, c] of credentials({
      fetch: echoing(
        (form, raw) =>
          new Response(
            `<html><body><h1>400 Bad Request</h1><pre>${raw}</pre><p>${credentialOf(form)}</p><p>cached: ${ACCESS_JWT} ${ACCESS_OPAQUE}</p></body></html>`,
            { status: 400, headers: { 'content-type': 'text/html' } },
          ),
      ),
    })) {
      const error = (await failure(c.getToken(SCOPE))) as TokenRequestError;
      expect(error).toMatchObject({ code: 'ERR_NON_JSON_RESPONSE', status: 400 });
      expect(error.bodyPreview).toMatch(/^<html><body><h1>400 Bad Request<\/h1><pre>grant_type=client_credentials/);
      expectClean(`HTML echo (${name})`, error);
    }
  });

  test('a truncated 200 with an opaque access token; a token_type, a redirect and a non-error JSON that echo', async () => {
    const bodies: Array<[string, (form: URLSearchParams) => Response, string]> = [
      [
        'truncated JSON with an opaque token',
        () => new Response(`{"token_type":"Bearer","expires_in":3599,"access_token":"${ACCESS_OPAQUE}`, { status: 200, headers: { 'content-type': 'application/json' } }),
        'ERR_NON_JSON_RESPONSE',
      ],
      [
        'a token_type echoing the credential',
        (form) => Response.json({ token_type: credentialOf(form), expires_in: 3599, access_token: ACCESS_OPAQUE }),
        'ERR_UNSUPPORTED_TOKEN_TYPE',
      ],
      [
        'expires_in nonsense next to a token',
        () => Response.json({ token_type: 'Bearer', expires_in: 'soon', access_token: ACCESS_OPAQUE, refresh_token: ACCESS_JWT }),
        'ERR_INVALID_TOKEN_RESPONSE',
      ],
      [
        'a token of a type not supported (pop)',
        () => Response.json({ token_type: 'pop', expires_in: 3599, access_token: ACCESS_OPAQUE }),
        'ERR_UNSUPPORTED_TOKEN_TYPE',
      ],
      [
        'no access_token but an id_token',
        () => Response.json({ token_type: 'Bearer', expires_in: 3599, id_token: ACCESS_JWT }),
        'ERR_NO_ACCESS_TOKEN',
      ],
      [
        'a redirect whose Location carries the credential',
        (form) => new Response(null, { status: 302, headers: { location: `https://evil.example/${encodeURIComponent(credentialOf(form))}/x?t=${ACCESS_OPAQUE}` } }),
        'ERR_UNEXPECTED_RESPONSE',
      ],
      [
        'a 500 with JSON that is no OAuth error',
        (form) => Response.json({ message: credentialOf(form), token: ACCESS_OPAQUE }, { status: 500 }),
        'ERR_UNEXPECTED_RESPONSE',
      ],
      [
        'a form-encoded error page echoing the body',
        (form) => new Response(`error=bad&${form.toString()}&access_token=${ACCESS_OPAQUE}`, { status: 400, headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
        'ERR_NON_JSON_RESPONSE',
      ],
    ];
    for (const [what, answer, code] of bodies) {
      for (const [name, c] of credentials({ fetch: echoing(answer) })) {
        const error = await failure(c.getToken(SCOPE));
        expect(error).toMatchObject({ code });
        expectClean(`${what} (${name})`, error);
      }
    }
  });

  test('transport errors whose text echoes the request (a proxy fetch, a broken agent)', async () => {
    for (const withCode of [true, false]) {
      for (const [name, c] of credentials({
        fetch: async (_input, init) => {
          const form = sentForm(init);
          // With a code, the message says `fetch failed (ECONNREFUSED)`; without one, it quotes the inner message.
          throw new TypeError(`fetch failed for ${credentialOf(form)}`, {
            cause: Object.assign(new Error(`proxy refused ${form.toString()}; credential ${credentialOf(form)}`), {
              ...(withCode ? { code: 'ECONNREFUSED' } : {}),
              cause: new Error(`socket: ${decodeURIComponent(form.toString())}`),
            }),
          });
        },
      })) {
        const error = await failure(c.getToken(SCOPE));
        expect(error).toMatchObject({ code: 'ERR_NETWORK', attempts: 2 });
        expect(error.message).toContain(withCode ? '(ECONNREFUSED)' : 'proxy refused grant_type=client_credentials');
        expectClean(`transport echo, ${withCode ? 'with' : 'without'} a code (${name})`, error);
      }
    }
  });
});

describe('every other error path', () => {
  test('the Entra-shaped server refusing each credential, and transport faults', async () => {
    const cases: Array<[string, ClientCredentialsGrantCredential]> = [
      ['a wrong secret', new ClientSecretCredential(TENANT, CLIENT, `${SECRET}-wrong`, options())],
      ['an opaque assertion', new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION_OPAQUE, options())],
      ['a JWT-shaped assertion that is no JWT', new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION_JWT, options())],
      ['an unregistered certificate', new ClientCertificateCredential(TENANT, CLIENT, { certificate: other.certPem, privateKey: other.keyPem }, options())],
      ['an unknown client', new ClientCertificateCredential(TENANT, 'ffffffff-0000-4000-8000-000000000000', { certificatePath: pfx.path, passphrase: PASSPHRASE }, options())],
      ['a bad scope', new ClientSecretCredential(TENANT, CLIENT, SECRET, options())],
    ];
    for (const [what, c] of cases) {
      const error = await failure(c.getToken(what === 'a bad scope' ? 'https://graph.microsoft.com/User.Read' : SCOPE));
      expect(error).toMatchObject({ code: 'ERR_OAUTH_ERROR' });
      expectClean(what, error);
      expectClean(`credential: ${what}`, c);
    }
    for (const fault of [{ kind: 'reset' }, { kind: 'drip', intervalMs: 100, chunks: 10 }, { kind: 'oversize', bytes: 2 * 1024 * 1024 }, { kind: 'html', status: 502 }, { kind: 'invalid-json' }, { kind: 'no-token' }] as const) {
      for (const [name, c] of credentials({ maxResponseBytes: 64 * 1024, retry: { maxAttempts: 1 }, timeoutMs: 300 })) {
        server.fail(fault);
        const error = await failure(c.getToken(SCOPE));
        expect(error).toBeInstanceOf(TokenRequestError);
        expectClean(`${fault.kind} (${name})`, error);
      }
    }
    for (const [name, c] of credentials({ authorityHost: 'http://127.0.0.1:1' })) {
      expectClean(`connection refused (${name})`, await failure(c.getToken(SCOPE)));
    }
    const throttled = new ClientSecretCredential(TENANT, CLIENT, SECRET, options());
    server.fail({ kind: 'status', status: 429, retryAfter: '120' });
    const first = await failure(throttled.getToken(SCOPE));
    expect(await failure(throttled.getToken(SCOPE))).toBe(first);
    expectClean('throttled', first);
    for (const [name, c] of credentials()) {
      expectClean(`aborted (${name})`, await failure(c.getToken(SCOPE, { abortSignal: AbortSignal.abort(new Error(SECRET)) })));
    }
    const v1 = new ClientSecretCredential(TENANT, CLIENT, SECRET, options({ endpointVersion: 'v1' }));
    expectClean('v1 with two resources', await failure(v1.getToken(['https://a.example/.default', 'https://b.example/.default'])));
  });

  test('certificates that cannot be loaded or used', async () => {
    const cases: Array<[string, () => ClientCertificateCredential]> = [
      ['a PFX with a wrong passphrase (bytes)', () => new ClientCertificateCredential(TENANT, CLIENT, { certificate: pfx.bytes, passphrase: WRONG_PASSPHRASE }, options())],
      ['a PFX with a wrong passphrase (path)', () => new ClientCertificateCredential(TENANT, CLIENT, { certificatePath: pfx.path, passphrase: WRONG_PASSPHRASE }, options())],
      ['a PFX without its passphrase', () => new ClientCertificateCredential(TENANT, CLIENT, pfx.path, options())],
      ['an encrypted PEM key with a wrong passphrase', () => new ClientCertificateCredential(TENANT, CLIENT, { certificate: cert.certPem, privateKey: encryptedKeyPem, passphrase: WRONG_PASSPHRASE }, options())],
      ['an encrypted PEM bundle (path) with a wrong passphrase', () => new ClientCertificateCredential(TENANT, CLIENT, { certificatePath: join(dir.path, 'encrypted-bundle.pem'), passphrase: WRONG_PASSPHRASE }, options())],
      ['a private key block that is not a key', () => new ClientCertificateCredential(TENANT, CLIENT, { certificate: cert.certPem, privateKey: BAD_KEY_PEM }, options())],
      ['a key that does not match the certificate', () => new ClientCertificateCredential(TENANT, CLIENT, { certificate: cert.certPem, privateKey: other.keyPem, passphrase: PASSPHRASE }, options())],
      ['a key where the certificate should be', () => new ClientCertificateCredential(TENANT, CLIENT, { certificate: cert.keyPem, passphrase: PASSPHRASE }, options())],
      ['a missing file, passphrase given', () => new ClientCertificateCredential(TENANT, CLIENT, { certificatePath: join(dir.path, 'nope.pfx'), passphrase: PASSPHRASE }, options())],
    ];
    for (const [what, make] of cases) {
      const c = make();
      const error = await failure(c.getToken(SCOPE));
      expect(error.name).toMatch(/^(CredentialError|TokenRequestError)$/);
      expectClean(what, error);
      expectClean(`credential: ${what}`, c);
    }
  });

  test('rotation: a replaced file that loads, then one that does not (wrong passphrase, a broken key)', async () => {
    const path = join(dir.path, 'rotating.pfx');
    await writeFile(path, pfx.bytes);
    const c = new ClientCertificateCredential(TENANT, CLIENT, { certificatePath: path, passphrase: PASSPHRASE }, options({ certificateCheckIntervalMs: 0 }));
    await c.getToken('https://one.example/.default');
    const before = events.length;
    const otherPfx = await dir.pfx(other, WRONG_PASSPHRASE); // opens only with another passphrase
    await writeFile(path, otherPfx.bytes);
    await c.getToken('https://two.example/.default');
    await writeFile(path, cert.certPem + BAD_KEY_PEM);
    await c.getToken('https://three.example/.default');
    await writeFile(path, cert.bundlePem); // loads (a PEM bundle needs no passphrase): the same certificate, no event
    await c.getToken('https://four.example/.default');
    const rotations = events.slice(before).filter((e) => e.type === 'rotation' || e.type === 'rotation-failed');
    expect(rotations.map((e) => e.type)).toEqual(['rotation-failed', 'rotation-failed']);
    expectClean('rotation events', rotations);
    expectClean('credential after rotations', c);
  });

  test('assertion callbacks that fail', async () => {
    const nested = new Error('level 0', { cause: new Error(`level 1 ${ASSERTION_JWT}`, { cause: new Error(`level 2 ${ASSERTION_JWT}`, { cause: new Error(`level 3 ${ASSERTION_JWT}`) }) }) });
    const callbacks: Array<[string, () => unknown]> = [
      ['throws with the assertion in the message', () => {
        throw new Error(`token file held ${ASSERTION_JWT}`);
      }],
      ['rejects with nested causes', () => Promise.reject(nested)],
      ['throws a non-Error', () => {
        throw `raw ${ASSERTION_JWT}`;
      }],
      ['returns an empty string', () => ''],
      ['returns an object holding the assertion', () => ({ assertion: ASSERTION_JWT })],
    ];
    for (const [what, callback] of callbacks) {
      const c = new ClientAssertionCredential(TENANT, CLIENT, callback as () => string, options());
      const error = await failure(c.getToken(SCOPE));
      expect(error).toMatchObject({ code: 'ERR_ASSERTION_CALLBACK' });
      expectClean(`callback ${what}`, error);
    }
  });

  test('options that fail validation never echo a value', () => {
    const attempts: Array<[string, () => unknown]> = [
      ['an http: endpoint off loopback with a key in the query', () => new ClientSecretCredential(TENANT, CLIENT, SECRET, { tokenEndpoint: `http://login.example/token?key=${SECRET}` })],
      ['an endpoint with user info', () => new ClientSecretCredential(TENANT, CLIENT, SECRET, { tokenEndpoint: `https://user:${SECRET}@login.example/token` })],
      ['a secret where a number goes', () => new ClientSecretCredential(TENANT, CLIENT, SECRET, { timeoutMs: SECRET as unknown as number })],
      ['a secret as an unknown option', () => new ClientSecretCredential(TENANT, CLIENT, SECRET, { clientSecret: SECRET } as TokenCredentialOptions)],
      ['a secret in the retry policy', () => new ClientSecretCredential(TENANT, CLIENT, SECRET, { retry: { maxAttempts: SECRET as unknown as number } })],
      ['an empty secret', () => new ClientSecretCredential(TENANT, CLIENT, '', {})],
      ['a numeric passphrase', () => new ClientCertificateCredential(TENANT, CLIENT, { certificate: cert.certPem, privateKey: cert.keyPem, passphrase: 42 as unknown as string })],
      ['certificatePassword next to passphrase', () => new ClientCertificateCredential(TENANT, CLIENT, { certificatePath: pfx.path, passphrase: PASSPHRASE, certificatePassword: PASSPHRASE })],
      ['a numeric certificatePassword', () => new ClientCertificateCredential(TENANT, CLIENT, { certificate: pfx.bytes, certificatePassword: 42 as unknown as string })],
      ['a secret as an allowed tenant', () => new ClientSecretCredential(TENANT, CLIENT, SECRET, { additionallyAllowedTenants: SECRET as never })],
      ['an unknown member next to a key', () => new ClientCertificateCredential(TENANT, CLIENT, { certificate: cert.certPem, privateKey: cert.keyPem, pin: PASSPHRASE } as never)],
      ['a key as the certificate option', () => new ClientCertificateCredential(TENANT, CLIENT, { key: BAD_KEY_PEM } as never)],
      ['a passphrase as an option of the credential', () => new ClientCertificateCredential(TENANT, CLIENT, pfx.path, { passphrase: PASSPHRASE } as never)],
      ['a secret as the assertion callback', () => new ClientAssertionCredential(TENANT, CLIENT, ASSERTION_JWT as never)],
    ];
    for (const [what, f] of attempts) {
      const error = thrown(f);
      expect(error).toMatchObject({ code: 'ERR_INVALID_OPTIONS' });
      expectClean(what, error);
    }
  });
});

describe('what a working credential shows', () => {
  test('credentials, tokens and responses: only the token object carries the token', async () => {
    const opaque = {
      fetch: echoing(() => Response.json({ token_type: 'Bearer', expires_in: 3599, access_token: ACCESS_OPAQUE })),
    };
    const working: Array<[string, ClientCredentialsGrantCredential]> = [
      ['PFX + passphrase (bytes)', new ClientCertificateCredential(TENANT, CLIENT, { certificate: pfx.bytes, passphrase: PASSPHRASE }, options())],
      ['PFX + passphrase (path)', new ClientCertificateCredential(TENANT, CLIENT, { certificatePath: pfx.path, passphrase: PASSPHRASE }, options())],
      ['encrypted PEM key', new ClientCertificateCredential(TENANT, CLIENT, { certificate: cert.certPem, privateKey: encryptedKeyPem, passphrase: PASSPHRASE }, options())],
      ['PEM bundle path', new ClientCertificateCredential(TENANT, CLIENT, cert.bundlePath, options())],
      ['secret', new ClientSecretCredential(TENANT, CLIENT, SECRET, options())],
      ['opaque token via a generic endpoint', new ClientSecretCredential(TENANT, CLIENT, SECRET, { ...options(), authorityHost: undefined, tokenEndpoint: `https://login.example/token?api-key=${SECRET}`, ...opaque })],
      ['JWT assertion, opaque token', new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION_JWT, { ...options(), ...opaque })],
    ];
    for (const [what, c] of working) {
      const token = await c.getToken(SCOPE);
      expect(await c.getToken(SCOPE)).toBe(token); // a cache hit
      const response = await c.getTokenResponse(SCOPE);
      expect(response.accessToken).toBe(token.token);
      expectClean(`token (${what})`, token, [token.token]);
      expectClean(`token response (${what})`, response, [token.token]);
      expectClean(`credential (${what})`, c);
      expectClean(`credential as JSON (${what})`, JSON.parse(JSON.stringify(c)));
    }
  });

  test('every event, logger and diagnostics channel, is clean', () => {
    expect(events.length).toBeGreaterThan(100);
    expect(channelEvents.length).toBeGreaterThanOrEqual(events.length);
    expect(new Set(events.map((e) => e.type))).toEqual(
      new Set(['request', 'response', 'retry', 'token', 'cache-hit', 'refresh', 'refresh-failed', 'rotation-failed']),
    );
    expectClean('logger events', events);
    expectClean('diagnostics channel events', channelEvents);
    console.log(
      `secret hygiene: ${checks} sentinel checks: ${subjects} errors, credentials, tokens and event logs × ` +
        `${views(new Error()).length}+ views (message, stack, each cause, inspect, JSON) × ${secrets().length} secrets and patterns`,
    );
  });
});
