/**
 * Fault injection against the token client, as a table: one row per fault
 * the Entra-shaped dev server (or the network) can produce, each with the
 * number of requests the server saw, the outcome (a token, or the typed
 * error after exhaustion) and a time bound; then the outage scenarios
 * (cached token served through the refresh window, no thundering herd,
 * never an expired token, recovery).
 *
 * The retry policy is small (tens of ms) so the table runs in seconds; the
 * bounds are derived from it. No unhandled rejection may occur anywhere in
 * this file.
 */
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startEntraServer, type EntraFault, type EntraServer } from '@x/devserver';
import {
  ClientCertificateCredential,
  EXPIRY_MARGIN_MS,
  TokenRequestError,
  type AccessToken,
  type ClientCertificateCredentialOptions,
  type TokenErrorCode,
  type TokenEvent,
} from '@x/token';
import { certificateDir, type CertificateDir, type TestCertificate } from './support.js';
import { expiryMarginMs } from '../src/cache.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = 'a1b2c3d4-0000-4000-8000-00000000fa17';
const SCOPE = 'https://graph.microsoft.com/.default';

/** The table's retry policy: 4 attempts, full-jitter backoff capped at 20/40/80 ms, 3 s budget. */
const RETRY = { maxAttempts: 4, initialDelayMs: 20, maxDelayMs: 80, maxElapsedMs: 3_000 } as const;
/** A healthy exchange's per-attempt timeout: generous, so a busy machine never turns a slow answer into ERR_TIMEOUT. */
const TIMEOUT_MS = 5_000;
/** Sum of the backoff caps of 3 retries: 20 + 40 + 80. */
const MAX_BACKOFF_TOTAL = 140;

let dir: CertificateDir;
let cert: TestCertificate;
const servers: EntraServer[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  dir = await certificateDir();
  cert = await dir.make('faults');
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  // Let any stray promise settle before judging.
  await new Promise((r) => setTimeout(r, 50));
  process.off('unhandledRejection', onUnhandled);
  await dir?.remove();
  expect(unhandled).toEqual([]);
});

async function entra(options: { tokenLifetimeSeconds?: number; refreshInSeconds?: number } = {}): Promise<EntraServer> {
  const server = await startEntraServer({ tenantId: TENANT, clients: [{ clientId: CLIENT, certificates: [cert.certPem] }], ...options });
  servers.push(server);
  return server;
}

/** A credential against `authorityHost`, recording its events. */
function credential(authorityHost: string, options: ClientCertificateCredentialOptions = {}) {
  const events: TokenEvent[] = [];
  const c = new ClientCertificateCredential(TENANT, CLIENT, cert.bundlePath, {
    authorityHost,
    retry: RETRY,
    timeoutMs: TIMEOUT_MS,
    logger: (e) => events.push(e),
    ...options,
  });
  return { c, events };
}

/** A 127.0.0.1 port nobody listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const status = (s: number, retryAfter?: string): EntraFault => ({ kind: 'status', status: s, ...(retryAfter === undefined ? {} : { retryAfter }) });

type Outcome =
  | { readonly ok: true; readonly expiresIn?: number }
  | { readonly code: TokenErrorCode; readonly status?: number; readonly retryable: boolean; readonly detail?: RegExp };

interface Row {
  readonly fault: string;
  /**
   * Faults queued on the server, in order (a function: built when the request is about to be sent, e.g. a date
   * relative to now); `refused`: no server at all (a closed port).
   */
  readonly faults: readonly EntraFault[] | (() => readonly EntraFault[]) | 'refused';
  readonly server?: { tokenLifetimeSeconds?: number };
  readonly options?: ClientCertificateCredentialOptions;
  /** HTTP requests made (server-side count from `server.requests`; for `refused`, attempts made by the client). */
  readonly attempts: number;
  readonly outcome: Outcome;
  /** Time bound of the whole getToken call, ms. */
  readonly minMs?: number;
  readonly maxMs: number;
  /** Extra checks: the error or token, the server, the events. */
  readonly also?: (result: { error?: TokenRequestError; token?: AccessToken; server?: EntraServer; events: TokenEvent[] }) => void;
}

const PAST_DATE = 'Thu, 01 Jan 2015 00:00:00 GMT';
const anOkBound = 1_500; // a successful single exchange, RSA signing included, on a loaded 2-core box

const table: Row[] = [
  {
    fault: '429 storm, Retry-After: 2 (seconds), past the budget',
    faults: times(6, () => status(429, '2')),
    options: { retry: { ...RETRY, maxElapsedMs: 3_900 } },
    // t=0 fail, wait 2000 (ends < 3900) → t≈2000 fail (that attempt may take up to 1.9 s); another 2000 would end past 3900: stop.
    attempts: 2,
    outcome: { code: 'ERR_OAUTH_ERROR', status: 429, retryable: true },
    minMs: 2_000,
    maxMs: 3_900 + TIMEOUT_MS,
    also: ({ error, server }) => {
      expect(error).toMatchObject({ retryAfterMs: 2_000, errorCodes: [90055], attempts: 2 });
      expect(server!.requests[1]!.receivedAt - server!.requests[0]!.receivedAt).toBeGreaterThanOrEqual(1_995);
    },
  },
  {
    fault: '429 storm, Retry-After: an HTTP date already past, then a token',
    faults: times(3, () => status(429, PAST_DATE)),
    attempts: 4,
    outcome: { ok: true },
    maxMs: anOkBound,
    also: ({ events }) => {
      // A past date means "now": no wait at all, not the backoff.
      expect(events.filter((e) => e.type === 'retry').map((e) => e.type === 'retry' && e.delayMs)).toEqual([0, 0, 0]);
    },
  },
  {
    fault: '429, Retry-After: an HTTP date 2 minutes ahead',
    faults: () => [status(429, new Date(Date.now() + 120_000).toUTCString())],
    attempts: 1,
    outcome: { code: 'ERR_OAUTH_ERROR', status: 429, retryable: true },
    maxMs: anOkBound,
    also: ({ error }) => {
      // Whole seconds on the wire, measured against the answer's own Date header; the lower bound leaves 20 s
      // (10× and more of a normal exchange) between building the date and the answer.
      expect(error!.retryAfterMs).toBeGreaterThanOrEqual(100_000);
      expect(error!.retryAfterMs).toBeLessThanOrEqual(121_000);
    },
  },
  {
    fault: '503 burst (×3), then a token',
    faults: times(3, () => status(503)),
    attempts: 4,
    outcome: { ok: true },
    maxMs: anOkBound + MAX_BACKOFF_TOTAL,
  },
  {
    fault: 'persistent 5xx (500, 502, 503, 504, …)',
    faults: times(10, (i) => status([500, 502, 503, 504][i % 4]!)),
    attempts: 4,
    outcome: { code: 'ERR_OAUTH_ERROR', status: 504, retryable: true },
    maxMs: anOkBound + MAX_BACKOFF_TOTAL,
    also: ({ error }) => expect(error).toMatchObject({ attempts: 4, errorCodes: [90033] }),
  },
  {
    fault: 'connection refused (closed 127.0.0.1 port)',
    faults: 'refused',
    attempts: 4,
    outcome: { code: 'ERR_NETWORK', retryable: true, detail: /ECONNREFUSED/ },
    maxMs: 1_000 + MAX_BACKOFF_TOTAL,
    also: ({ error }) => expect((error!.cause as { code?: string }).code).toBe('ECONNREFUSED'),
  },
  {
    fault: 'connection reset in the middle of the body (every time)',
    faults: times(6, () => ({ kind: 'reset' })),
    attempts: 4,
    outcome: { code: 'ERR_NETWORK', retryable: true },
    maxMs: anOkBound + MAX_BACKOFF_TOTAL,
  },
  {
    fault: 'slow drip past the timeout (60 chunks, 100 ms apart; timeout 250 ms)',
    faults: times(3, () => ({ kind: 'drip', intervalMs: 100, chunks: 60 })),
    options: { timeoutMs: 250, retry: { ...RETRY, maxAttempts: 2 } },
    attempts: 2,
    outcome: { code: 'ERR_TIMEOUT', retryable: true },
    minMs: 2 * 250,
    // Two timed-out attempts take ≈ 0.5 s; waiting out one whole drip would take 6 s.
    maxMs: 5_000,
  },
  {
    fault: 'a body over the size cap (4 MiB, cap 64 KiB)',
    faults: [{ kind: 'oversize', bytes: 4 * 1024 * 1024 }],
    options: { maxResponseBytes: 64 * 1024 },
    attempts: 1,
    outcome: { code: 'ERR_RESPONSE_TOO_LARGE', status: 200, retryable: false },
    maxMs: anOkBound,
  },
  {
    fault: 'HTML 502 page from a proxy (every time)',
    faults: times(6, () => ({ kind: 'html', status: 502 })),
    attempts: 4,
    outcome: { code: 'ERR_NON_JSON_RESPONSE', status: 502, retryable: true, detail: /502 Bad Gateway/ },
    maxMs: anOkBound + MAX_BACKOFF_TOTAL,
  },
  {
    fault: 'HTML 403 page from a WAF',
    faults: [{ kind: 'html', status: 403 }],
    attempts: 1,
    outcome: { code: 'ERR_NON_JSON_RESPONSE', status: 403, retryable: false },
    maxMs: anOkBound,
  },
  {
    fault: 'invalid JSON (a truncated 200)',
    faults: [{ kind: 'invalid-json' }],
    attempts: 1,
    outcome: { code: 'ERR_NON_JSON_RESPONSE', status: 200, retryable: false },
    maxMs: anOkBound,
  },
  {
    fault: '200 without access_token',
    faults: [{ kind: 'no-token' }],
    attempts: 1,
    outcome: { code: 'ERR_NO_ACCESS_TOKEN', status: 200, retryable: false },
    maxMs: anOkBound,
  },
  {
    fault: 'expires_in as a number (3599)',
    faults: [{ kind: 'expires-in', value: 3599 }],
    attempts: 1,
    outcome: { ok: true, expiresIn: 3599 },
    maxMs: anOkBound,
  },
  {
    fault: 'expires_in as a string ("3599")',
    faults: [{ kind: 'expires-in', value: '3599' }],
    attempts: 1,
    outcome: { ok: true, expiresIn: 3599 },
    maxMs: anOkBound,
  },
  {
    fault: 'expires_in absent',
    faults: [{ kind: 'expires-in', value: undefined }],
    attempts: 1,
    outcome: { code: 'ERR_INVALID_TOKEN_RESPONSE', status: 200, retryable: false },
    maxMs: anOkBound,
  },
  {
    fault: 'expires_in negative (-3600)',
    faults: [{ kind: 'expires-in', value: -3600 }],
    attempts: 1,
    outcome: { code: 'ERR_INVALID_TOKEN_RESPONSE', status: 200, retryable: false },
    maxMs: anOkBound,
  },
  {
    fault: 'expired on arrival: expires_in 0',
    faults: [{ kind: 'expires-in', value: 0 }],
    attempts: 1,
    outcome: { code: 'ERR_INVALID_TOKEN_RESPONSE', status: 200, retryable: false },
    maxMs: anOkBound,
  },
  {
    fault: 'a short token: expires_in 10 is usable (margin 2.5 s, a quarter of its lifetime)',
    faults: [{ kind: 'expires-in', value: 10 }],
    attempts: 1,
    outcome: { ok: true, expiresIn: 10 },
    maxMs: anOkBound,
  },
  {
    fault: 'a short token: expires_in "30" is usable (margin 7.5 s)',
    faults: [{ kind: 'expires-in', value: '30' }],
    attempts: 1,
    outcome: { ok: true, expiresIn: 30 },
    maxMs: anOkBound,
  },
  {
    fault: 'expired on arrival: a 4 s token delayed 3.2 s in transit, then a prompt one',
    server: { tokenLifetimeSeconds: 4 },
    faults: [{ kind: 'slow', delayMs: 3_200 }],
    options: { timeoutMs: 6_000, retry: { ...RETRY, maxElapsedMs: 10_000 } },
    // Usable for 3 s after the request (margin 1 s): the slow answer arrives unusable and is re-requested.
    attempts: 2,
    outcome: { ok: true },
    minMs: 3_200,
    maxMs: 3_200 + anOkBound + MAX_BACKOFF_TOTAL,
    also: ({ events }) => expect(events.find((e) => e.type === 'retry')).toMatchObject({ code: 'ERR_INVALID_TOKEN_RESPONSE' }),
  },
  {
    fault: "the server's clock 30 years behind (Date: 1996)",
    faults: [{ kind: 'date', date: 'Mon, 01 Jan 1996 00:00:00 GMT' }],
    attempts: 1,
    outcome: { ok: true, expiresIn: 3599 },
    maxMs: anOkBound,
  },
  {
    fault: "the server's clock 30 years ahead (Date: 2056)",
    faults: [{ kind: 'date', date: 'Sat, 01 Jan 2056 00:00:00 GMT' }],
    attempts: 1,
    outcome: { ok: true, expiresIn: 3599 },
    maxMs: anOkBound,
  },
];

/** What each row gave, printed at the end. */
const report: string[] = [];

describe('fault table', () => {
  test.each(table.map((row) => [row.fault, row] as const))('%s', async (_, row) => {
    const server = row.faults === 'refused' ? undefined : await entra(row.server);
    const host = server?.url ?? `http://127.0.0.1:${await closedPort()}`;
    if (server !== undefined && row.faults !== 'refused') server.fail(...(typeof row.faults === 'function' ? row.faults() : row.faults));
    const { c, events } = credential(host, row.options);

    const started = performance.now();
    const settled = await c.getTokenResponse(SCOPE).then(
      (response) => ({ response }),
      (error: unknown) => ({ error }),
    );
    const elapsed = performance.now() - started;
    const afterAt = Date.now();

    // Attempts: what the server saw, and what the client says it sent.
    const sent = events.filter((e) => e.type === 'request').length;
    if (server !== undefined) expect(server.requests).toHaveLength(row.attempts);
    expect(sent).toBe(row.attempts);

    let token: AccessToken | undefined;
    let error: TokenRequestError | undefined;
    if ('ok' in row.outcome) {
      expect('error' in settled ? settled.error : undefined).toBeUndefined();
      const response = (settled as { response: Awaited<ReturnType<typeof c.getTokenResponse>> }).response;
      token = await c.getToken(SCOPE); // the cache entry it made
      expect(token.token).toBe(response.accessToken);
      expect(token.token).toBe(server!.issued.at(-1)!.token);
      // Never an expired (or about to expire) token.
      expect(token.expiresOnTimestamp - expiryMarginMs(response.expiresIn)).toBeGreaterThan(afterAt);
      if (row.outcome.expiresIn !== undefined) {
        expect(response.expiresIn).toBe(row.outcome.expiresIn);
        // Expiry by the local clock from the request time, whatever the server's Date says.
        expect(Math.abs(response.expiresOnTimestamp - (afterAt + row.outcome.expiresIn * 1000))).toBeLessThan(anOkBound + 1_000);
      }
      expect(server!.requests).toHaveLength(row.attempts); // the second getToken was a hit
    } else {
      expect('error' in settled).toBe(true);
      error = (settled as { error: unknown }).error as TokenRequestError;
      expect(error).toBeInstanceOf(TokenRequestError);
      expect(error).toMatchObject({ code: row.outcome.code, retryable: row.outcome.retryable, attempts: row.attempts });
      if (row.outcome.status !== undefined) expect(error.status).toBe(row.outcome.status);
      if (row.outcome.detail !== undefined) expect(error.message).toMatch(row.outcome.detail);
    }

    // Time: within the row's bound, and always within the retry budget plus one attempt's timeout.
    expect(elapsed).toBeGreaterThanOrEqual(row.minMs ?? 0);
    expect(elapsed).toBeLessThan(row.maxMs);
    const policy = { ...RETRY, ...row.options?.retry };
    expect(elapsed).toBeLessThan(policy.maxElapsedMs + (row.options?.timeoutMs ?? TIMEOUT_MS) + 500);

    row.also?.({ error, token, server, events });
    report.push(
      `${row.fault.padEnd(76)} | ${String(row.attempts).padStart(2)} | ${('ok' in row.outcome ? 'token' : row.outcome.code).padEnd(26)} | ${Math.round(elapsed)} ms`,
    );
  });

  test('after a Retry-After the retries could not wait out, the key is left alone until then', async () => {
    const server = await entra();
    server.fail(status(429, '120'));
    const { c } = credential(server.url);
    const first = await c.getToken(SCOPE).catch((e: unknown) => e);
    expect(first).toMatchObject({ code: 'ERR_OAUTH_ERROR', status: 429, attempts: 1 });
    const callers = await Promise.all(times(50, () => c.getToken(SCOPE).catch((e: unknown) => e)));
    expect(callers.every((e) => e === first)).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  afterAll(() => {
    if (report.length > 0) console.log(`fault${' '.repeat(72)} | n  | outcome                    | time\n${report.join('\n')}`);
  });
});

describe('outage: the cached token through the refresh window', () => {
  /**
   * One step of a daemon fleet: `n` concurrent callers, then wait until any
   * background refresh they started has settled.
   */
  async function step(c: ClientCertificateCredential, events: TokenEvent[], n: number) {
    const before = events.length;
    const results = await Promise.all(times(n, () => c.getToken(SCOPE).then((t) => ({ t }), (e: unknown) => ({ e }))));
    const started = events.slice(before).some((e) => e.type === 'refresh' && e.reason === 'due');
    if (started) {
      const deadline = performance.now() + 5_000;
      while (!events.slice(before).some((e) => e.type === 'token' || e.type === 'refresh-failed')) {
        if (performance.now() > deadline) throw new Error('a background refresh never settled');
        await new Promise((r) => setTimeout(r, 2));
      }
    }
    return results;
  }

  const OUTAGE_FAULTS: EntraFault[] = [status(503), { kind: 'reset' }, { kind: 'html', status: 502 }, status(500), status(429, '0')];

  /**
   * An outage switched on and off: while `down`, each request the client is
   * about to send (its `request` event, emitted synchronously before the
   * POST) gets one fault queued for it, so none is left over on recovery.
   */
  function outage(server: EntraServer) {
    let queued = 0;
    const state = {
      down: false,
      get queued() {
        return queued;
      },
      onEvent(e: TokenEvent) {
        if (e.type === 'request' && state.down) server.fail(OUTAGE_FAULTS[queued++ % OUTAGE_FAULTS.length]!);
      },
    };
    return state;
  }

  test('server faulting from the refresh time to near expiry: cached token served, one request per refreshRetryMs, recovery', async () => {
    const server = await entra();
    const down = outage(server);
    let clock = Date.now();
    const requestClock: number[] = [];
    const REFRESH_RETRY_MS = 60_000;
    const { c, events } = credential(server.url, {
      now: () => clock,
      refreshRetryMs: REFRESH_RETRY_MS,
      retry: { ...RETRY, maxAttempts: 1 }, // so "one request" is literal
      logger: (e) => {
        down.onEvent(e);
        events.push(e);
        if (e.type === 'request') requestClock.push(clock);
      },
    });
    const first = await c.getToken(SCOPE);
    expect(server.requests).toHaveLength(1);
    const usableUntil = first.expiresOnTimestamp - EXPIRY_MARGIN_MS;

    // The outage: every request faults, from the refresh time until 10 minutes before the end of usability.
    const outageEnd = usableUntil - 600_000;
    const N = 40;
    const STEP_MS = 7_000;
    let served = 0;
    let expired = 0;
    let second: AccessToken | undefined;
    for (clock = first.refreshAfterTimestamp; clock < usableUntil && second === undefined; clock += STEP_MS) {
      down.down = clock < outageEnd;
      for (const r of await step(c, events, N)) {
        if ('e' in r) throw r.e;
        served++;
        if (r.t.expiresOnTimestamp - EXPIRY_MARGIN_MS <= clock) expired++;
        if (down.down) expect(r.t).toBe(first);
        else if (r.t !== first) second ??= r.t;
      }
    }

    expect(expired).toBe(0);
    expect(second).toBeDefined();
    expect(second!.token).toBe(server.issued.at(-1)!.token);
    // Outage requests: one per refreshRetryMs at most, spaced at least refreshRetryMs apart; then one that recovers.
    const outageRequests = requestClock.slice(1, -1);
    expect(outageRequests).toHaveLength(down.queued);
    expect(server.requests).toHaveLength(1 + down.queued + 1);
    const window = outageEnd - first.refreshAfterTimestamp;
    expect(outageRequests.length).toBeLessThanOrEqual(Math.ceil(window / REFRESH_RETRY_MS) + 1);
    expect(outageRequests.length).toBeGreaterThanOrEqual(Math.floor(window / (REFRESH_RETRY_MS + STEP_MS)));
    for (let i = 2; i < requestClock.length; i++) expect(requestClock[i]! - requestClock[i - 1]!).toBeGreaterThanOrEqual(REFRESH_RETRY_MS);
    const failures = events.filter((e) => e.type === 'refresh-failed');
    expect(failures).toHaveLength(down.queued);
    expect(new Set(failures.map((e) => e.type === 'refresh-failed' && e.code))).toEqual(
      new Set(['ERR_OAUTH_ERROR', 'ERR_NETWORK', 'ERR_NON_JSON_RESPONSE']),
    );
    console.log(
      `outage: ${served} tokens served to ${N} callers per ${STEP_MS / 1000} s step over ${Math.round(window / 60_000)} min of faults, ` +
        `${outageRequests.length} requests during the outage (refreshRetryMs ${REFRESH_RETRY_MS / 1000} s), 0 expired, recovered at the next try`,
    );
  });

  test('outage past the end of usability: errors shared by all callers, never the expired token; recovery', async () => {
    const server = await entra();
    const down = outage(server);
    let clock = Date.now();
    const events: TokenEvent[] = [];
    const { c } = credential(server.url, {
      now: () => clock,
      refreshRetryMs: 60_000,
      retry: { ...RETRY, maxAttempts: 2 },
      logger: (e) => {
        down.onEvent(e);
        events.push(e);
      },
    });
    const first = await c.getToken(SCOPE);
    const usableUntil = first.expiresOnTimestamp - EXPIRY_MARGIN_MS;

    down.down = true; // from the refresh time on
    for (clock = first.refreshAfterTimestamp; clock < usableUntil; clock += 60_000) {
      for (const r of await step(c, events, 10)) expect('t' in r && r.t).toBe(first);
    }
    clock = usableUntil; // the token is now treated as expired
    const before = server.requests.length;
    const results = await Promise.all(times(100, () => c.getToken(SCOPE).then((t) => t, (e: unknown) => e)));
    expect(results.every((r) => r instanceof TokenRequestError)).toBe(true);
    expect(new Set(results).size).toBe(1); // one flight, one error for all
    expect((results[0] as TokenRequestError).retryable).toBe(true);
    expect(server.requests.length - before).toBe(2); // maxAttempts, not 100 × maxAttempts
    expect(results.includes(first)).toBe(false);

    down.down = false; // the server is back: the same credential recovers at the next call
    const fresh = await c.getToken(SCOPE);
    expect(fresh.token).toBe(server.issued.at(-1)!.token);
    expect(fresh.expiresOnTimestamp - EXPIRY_MARGIN_MS).toBeGreaterThan(clock);
    expect(server.requests.length - before).toBe(3);
    expect(server.requests).toHaveLength(1 + down.queued + 1);
  });

  test('a refresh that outlasts refreshRetryMs (a hanging server): the next one still waits refreshRetryMs after the failure', async () => {
    // 40 s tokens with refresh_in 1: due after 1 s, usable for 10 s. Each attempt times out at 120 ms: a refresh takes ≥ 360 ms.
    const server = await entra({ tokenLifetimeSeconds: 40, refreshInSeconds: 1 });
    const REFRESH_RETRY_MS = 250;
    const marks: Array<{ type: string; at: number; retryAt?: number }> = [];
    const { c } = credential(server.url, {
      timeoutMs: 120,
      refreshRetryMs: REFRESH_RETRY_MS,
      retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 20, maxElapsedMs: 5_000 },
      logger: (e) => {
        if (e.type === 'refresh' || e.type === 'refresh-failed') {
          marks.push({ type: e.type, at: Date.now(), ...(e.type === 'refresh-failed' ? { retryAt: e.retryAt } : {}) });
        }
      },
    });
    const first = await c.getToken(SCOPE);
    server.fail(...times(60, () => ({ kind: 'slow', delayMs: 2_000 }) as const));
    await new Promise((r) => setTimeout(r, 1_050)); // now due
    const until = performance.now() + 1_700;
    while (performance.now() < until) {
      const results = await Promise.all(times(5, () => c.getToken(SCOPE)));
      expect(results.every((t) => t === first)).toBe(true);
      await new Promise((r) => setTimeout(r, 10));
    }
    const failures = marks.filter((m) => m.type === 'refresh-failed');
    expect(failures.length).toBeGreaterThanOrEqual(1);
    for (const failure of failures) {
      // The announced next try is in the future, refreshRetryMs after the failure…
      expect(failure.retryAt! - failure.at).toBeGreaterThanOrEqual(REFRESH_RETRY_MS - 5);
      // …and is kept.
      const next = marks.find((m) => m.type === 'refresh' && m.at >= failure.at);
      if (next !== undefined) expect(next.at - failure.at).toBeGreaterThanOrEqual(REFRESH_RETRY_MS - 5);
    }
    const refreshes = marks.filter((m) => m.type === 'refresh').length;
    // Each cycle is ≥ 360 ms of attempts + 250 ms of rest: at most ⌈1700 / 610⌉ refreshes.
    expect(refreshes).toBeLessThanOrEqual(Math.ceil(1_700 / (360 + REFRESH_RETRY_MS)));
    expect(server.requests.length - 1).toBeLessThanOrEqual(refreshes * 3);
  });
});
