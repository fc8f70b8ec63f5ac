import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startEntraServer, type EntraServer } from '@x/devserver';

import { JWT_BEARER, makeAssertion, opensslCredentials, postForm, type TestCredential } from './support.js';

const TENANT = 'fault-tenant';
const CLIENT = 'fault-client';
const SCOPE = 'api://backend/.default';

let cert: TestCredential;
let entra: EntraServer;

beforeAll(async () => {
  [cert] = (await opensslCredentials(1)) as [TestCredential];
  entra = await startEntraServer({ tenantId: TENANT, clients: [{ clientId: CLIENT, certificates: [cert.certPem] }], tokenLifetimeSeconds: 1200 });
});

afterAll(async () => {
  await entra?.close();
});

async function form(version: 'v1' | 'v2' = 'v2', assertion?: string): Promise<Record<string, string>> {
  return {
    grant_type: 'client_credentials',
    client_id: CLIENT,
    client_assertion_type: JWT_BEARER,
    client_assertion: assertion ?? (await makeAssertion({ credential: cert, clientId: CLIENT, audience: entra.tokenEndpoint(version), header: { x5t: cert.x5t } })),
    ...(version === 'v2' ? { scope: SCOPE } : { resource: 'api://backend' }),
  };
}

async function post(version: 'v1' | 'v2' = 'v2', assertion?: string): Promise<Response> {
  return postForm(entra.tokenEndpoint(version), await form(version, assertion));
}

/** A raw request that reports what arrived before the connection ended. */
function rawPost(version: 'v1' | 'v2', body: string): Promise<{ status?: number; headers?: Record<string, unknown>; received: number; error?: Error }> {
  return new Promise((resolve) => {
    const req = httpRequest(entra.tokenEndpoint(version), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      let received = 0;
      res.on('data', (chunk: Buffer) => (received += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, received }));
      res.on('error', (error) => resolve({ status: res.statusCode!, headers: res.headers, received, error }));
      res.on('aborted', () => resolve({ status: res.statusCode!, headers: res.headers, received, error: new Error('aborted') }));
    });
    req.on('error', (error) => resolve({ received: 0, error }));
    req.end(body);
  });
}

describe('startEntraServer faults', () => {
  it('status: 429 with Retry-After (seconds or HTTP date) and an Entra error body; 503; a custom body', async () => {
    const date = new Date(Date.now() + 5000).toUTCString();
    entra.fail(
      { kind: 'status', status: 429, retryAfter: '2' },
      { kind: 'status', status: 429, retryAfter: date },
      { kind: 'status', status: 503 },
      { kind: 'status', status: 500, body: { error: 'server_error', custom: true } },
    );
    const throttled = await post();
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('2');
    expect(await throttled.json()).toMatchObject({ error: 'temporarily_unavailable', error_codes: [90055] });
    const dated = await post();
    expect(dated.headers.get('retry-after')).toBe(date);
    await dated.body?.cancel();
    const unavailable = await post();
    expect(unavailable.status).toBe(503);
    expect(await unavailable.json()).toMatchObject({ error: 'temporarily_unavailable', error_codes: [90033] });
    const custom = await post();
    expect(custom.status).toBe(500);
    expect(await custom.json()).toEqual({ error: 'server_error', custom: true });
    expect((await post()).status).toBe(200);
  });

  it('faults are recorded, applied in order one per request, and do not consume the assertion', async () => {
    const before = entra.requests.length;
    const issuedBefore = entra.issued.length;
    const body = await form();
    entra.fail({ kind: 'status', status: 503 }, { kind: 'html', status: 502 });
    expect((await postForm(entra.tokenEndpoint('v2'), body)).status).toBe(503);
    expect((await postForm(entra.tokenEndpoint('v2'), body)).status).toBe(502);
    expect((await postForm(entra.tokenEndpoint('v2'), body)).status).toBe(200);
    expect(entra.requests.length - before).toBe(3);
    expect(entra.requests.slice(before).map((r) => r.form['client_assertion'])).toEqual([body['client_assertion'], body['client_assertion'], body['client_assertion']]);
    expect(entra.issued.length - issuedBefore).toBe(1);
  });

  it('html: a proxy error page', async () => {
    entra.fail({ kind: 'html', status: 502 });
    const res = await post();
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toMatch(/<html>[\s\S]*502 Bad Gateway/);
  });

  it('no-token: 200 JSON without access_token (v2 numbers, v1 strings)', async () => {
    entra.fail({ kind: 'no-token' }, { kind: 'no-token' });
    const v2 = (await (await post()).json()) as Record<string, unknown>;
    expect(v2).toEqual({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 });
    const v1 = await post('v1');
    expect(v1.status).toBe(200);
    expect(await v1.json()).toEqual({ token_type: 'Bearer', expires_in: '3599', ext_expires_in: '3599' });
  });

  it('invalid-json: 200 application/json that does not parse', async () => {
    entra.fail({ kind: 'invalid-json' });
    const res = await post();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    await expect(res.json()).rejects.toThrow(SyntaxError);
  });

  it('slow: the answer comes after delayMs and is a normal token answer', async () => {
    entra.fail({ kind: 'slow', delayMs: 300 });
    const started = performance.now();
    const res = await post();
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(res.status).toBe(200);
    expect(await res.json()).toHaveProperty('access_token');
  });

  it('slow: a client timeout fires first (AbortSignal.timeout)', async () => {
    entra.fail({ kind: 'slow', delayMs: 2000 });
    const started = performance.now();
    await expect(fetch(entra.tokenEndpoint('v2'), { method: 'POST', body: new URLSearchParams(await form()), signal: AbortSignal.timeout(150) })).rejects.toThrow(/timeout|abort/i);
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('drip: headers at once, body in chunks over chunks × intervalMs', async () => {
    entra.fail({ kind: 'drip', intervalMs: 60, chunks: 5 });
    const started = performance.now();
    const res = await post();
    const headersAt = performance.now() - started;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBeNull();
    const reader = res.body!.getReader();
    let chunks = 0;
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks += 1;
      text += new TextDecoder().decode(value);
    }
    // 5 chunks, 60 ms apart: the body keeps coming well after the headers.
    expect(performance.now() - started - headersAt).toBeGreaterThanOrEqual(250);
    expect(chunks).toBeGreaterThanOrEqual(2);
    expect(JSON.parse(text)).toHaveProperty('access_token');
  });

  it('reset: headers and part of the body, then the connection is reset', async () => {
    entra.fail({ kind: 'reset' });
    const res = await post();
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();

    entra.fail({ kind: 'reset' });
    const raw = await rawPost('v2', new URLSearchParams(await form()).toString());
    expect(raw.status).toBe(200);
    expect(Number(raw.headers?.['content-length'])).toBeGreaterThan(raw.received);
    expect(raw.received).toBeGreaterThan(0);
    expect(raw.error).toBeDefined();
  });

  it('oversize: a 200 JSON body of the given size, streamed without Content-Length', async () => {
    const bytes = 3 * 1024 * 1024 + 7;
    entra.fail({ kind: 'oversize', bytes });
    const res = await post();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBeNull();
    const body = await res.arrayBuffer();
    expect(body.byteLength).toBe(bytes);
    expect((JSON.parse(new TextDecoder().decode(body)) as { access_token: string }).access_token.length).toBeGreaterThan(bytes - 100);

    // A client that stops reading early does not hang the server.
    entra.fail({ kind: 'oversize', bytes: 50 * 1024 * 1024 });
    const early = await post();
    const reader = early.body!.getReader();
    await reader.read();
    await reader.cancel();
    expect((await post()).status).toBe(200);
  });

  it('expires-in: string, negative, null, absent — in an otherwise normal answer', async () => {
    entra.fail({ kind: 'expires-in', value: '3599' }, { kind: 'expires-in', value: -5 }, { kind: 'expires-in', value: undefined }, { kind: 'expires-in', value: 'soon' });
    const asString = (await (await post()).json()) as Record<string, unknown>;
    expect(asString['expires_in']).toBe('3599');
    expect(asString).toHaveProperty('access_token');
    expect(((await (await post()).json()) as Record<string, unknown>)['expires_in']).toBe(-5);
    const absent = (await (await post()).json()) as Record<string, unknown>;
    expect(absent).not.toHaveProperty('expires_in');
    expect(absent).toHaveProperty('access_token');
    const v1 = (await (await post('v1')).json()) as Record<string, unknown>;
    expect(v1['expires_in']).toBe('soon');
    expect(v1).toHaveProperty('expires_on');
  });

  it('date: a Date header far off', async () => {
    entra.fail({ kind: 'date', date: 'Sat, 01 Jan 2000 00:00:00 GMT' });
    const res = await post();
    expect(res.status).toBe(200);
    expect(res.headers.get('date')).toBe('Sat, 01 Jan 2000 00:00:00 GMT');
    expect(await res.json()).toHaveProperty('access_token');
  });

  it('refuses malformed faults', () => {
    expect(() => entra.fail({ kind: 'status', status: 42 })).toThrow(TypeError);
    expect(() => entra.fail({ kind: 'drip', intervalMs: 10, chunks: 0 })).toThrow(TypeError);
    expect(() => entra.fail({ kind: 'nope' } as never)).toThrow(TypeError);
  });

  it('close() returns promptly with a slow answer pending', async () => {
    const other = await startEntraServer({ tenantId: TENANT, clients: [{ clientId: CLIENT, certificates: [cert.certDer] }] });
    other.fail({ kind: 'slow', delayMs: 60_000 });
    const pending = fetch(other.tokenEndpoint('v2'), { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials' }) });
    await new Promise((r) => setTimeout(r, 100));
    expect(other.requests).toHaveLength(1);
    const started = performance.now();
    await other.close();
    expect(performance.now() - started).toBeLessThan(1000);
    await expect(pending).rejects.toThrow();
    await other.close(); // idempotent
  });
});
