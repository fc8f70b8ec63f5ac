import { describe, expect, test } from 'vitest';
import { TokenRequestError } from '@x/token';
import type { HttpResponse } from '../src/transport.js';
import { processTokenResponse } from '../src/response.js';

const T0 = 1_700_000_000_000;

function answer(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return { status, headers: new Headers({ 'content-type': 'application/json', ...headers }), body: new TextEncoder().encode(text) };
}

function failure(response: HttpResponse): TokenRequestError {
  try {
    processTokenResponse(response, T0);
  } catch (e) {
    expect(e).toBeInstanceOf(TokenRequestError);
    return e as TokenRequestError;
  }
  throw new Error('expected a failure');
}

describe('processTokenResponse: success (RFC 6749 §5.1)', () => {
  test('v2: numbers, expiry from the request time; no refresh policy (the cache decides)', () => {
    const r = processTokenResponse(answer(200, { token_type: 'Bearer', expires_in: 3600, ext_expires_in: 3600, access_token: 'at' }), T0);
    expect(r).toEqual({
      accessToken: 'at',
      tokenType: 'Bearer',
      expiresIn: 3600,
      expiresOnTimestamp: T0 + 3_600_000,
      extExpiresIn: 3600,
    });
    expect(Object.isFrozen(r)).toBe(true);
  });

  test('v1: numbers as strings, resource, expires_on, not_before', () => {
    const r = processTokenResponse(
      answer(200, {
        token_type: 'Bearer',
        expires_in: '3599',
        ext_expires_in: '3599',
        expires_on: '1458245447',
        not_before: '1458241547',
        resource: 'https://management.core.windows.net/',
        access_token: 'at',
      }),
      T0,
    );
    expect(r).toMatchObject({ expiresIn: 3599, extExpiresIn: 3599, expiresOn: 1458245447, notBefore: 1458241547, resource: 'https://management.core.windows.net/' });
    expect(r.expiresOnTimestamp).toBe(T0 + 3_599_000);
  });

  test('refresh_in is honoured; token_type is case-insensitive', () => {
    const r = processTokenResponse(answer(200, { token_type: 'bearer', expires_in: 86_399, refresh_in: 43_199, access_token: 'at' }), T0);
    expect(r.tokenType).toBe('Bearer');
    expect(r.refreshIn).toBe(43_199);
  });

  test.each([
    ['absent', undefined],
    ['null', null],
    ['zero', 0],
    ['negative', -5],
    ['text', 'soon'],
    ['empty string', ''],
    ['over a year', 10 ** 12],
    ['an object', { s: 1 }],
  ])('expires_in %s → ERR_INVALID_TOKEN_RESPONSE, never a token without expiry', (_, expiresIn) => {
    const e = failure(answer(200, { token_type: 'Bearer', expires_in: expiresIn, access_token: 'secret-at' }));
    expect(e.code).toBe('ERR_INVALID_TOKEN_RESPONSE');
    expect(e.message).toContain('expires_in');
    expect(e.message).not.toContain('secret-at');
    expect(e.retryable).toBe(false);
  });

  test('no access_token → ERR_NO_ACCESS_TOKEN', () => {
    expect(failure(answer(200, { token_type: 'Bearer', expires_in: 3599 })).code).toBe('ERR_NO_ACCESS_TOKEN');
    expect(failure(answer(200, { token_type: 'Bearer', expires_in: 3599, access_token: '' })).code).toBe('ERR_NO_ACCESS_TOKEN');
  });

  test('a token type other than Bearer, DPoP or mtls_pop (any case) is refused with its own code', () => {
    for (const type of ['pop', 'PoP', 'mac', 'N_A']) {
      expect(failure(answer(200, { token_type: type, expires_in: 3599, access_token: 'at' })).code).toBe('ERR_UNSUPPORTED_TOKEN_TYPE');
    }
    const typeOf = (token_type: string) => processTokenResponse(answer(200, { token_type, expires_in: 3599, access_token: 'at' }), T0).tokenType;
    expect([typeOf('BEARER'), typeOf('dpop'), typeOf('MTLS_POP')]).toEqual(['Bearer', 'DPoP', 'mtls_pop']);
  });
});

describe('processTokenResponse: errors (RFC 6749 §5.2, Entra ID)', () => {
  test('an Entra error body: every field, not retryable', () => {
    const e = failure(
      answer(401, {
        error: 'invalid_client',
        error_description:
          'AADSTS700027: Client assertion contains an invalid signature.\r\nTrace ID: 0000aaaa-11bb-cccc-dd22-eeeeee333333\r\nCorrelation ID: aaaa0000-bb11-2222-33cc-444444dddddd\r\nTimestamp: 2016-01-09 02:02:12Z',
        error_codes: [700027],
        timestamp: '2016-01-09 02:02:12Z',
        trace_id: '0000aaaa-11bb-cccc-dd22-eeeeee333333',
        correlation_id: 'aaaa0000-bb11-2222-33cc-444444dddddd',
      }),
    );
    expect(e).toMatchObject({
      code: 'ERR_OAUTH_ERROR',
      status: 401,
      error: 'invalid_client',
      errorCodes: [700027],
      traceId: '0000aaaa-11bb-cccc-dd22-eeeeee333333',
      correlationId: 'aaaa0000-bb11-2222-33cc-444444dddddd',
      timestamp: '2016-01-09 02:02:12Z',
      retryable: false,
    });
    expect(e.message).toBe('The token endpoint answered HTTP 401 invalid_client: AADSTS700027: Client assertion contains an invalid signature.');
  });

  test('AADSTS codes are read from the description when error_codes is absent; JWTs in it are redacted', () => {
    const e = failure(answer(400, { error: 'invalid_request', error_description: 'AADSTS50027: bad token eyJhbGciOiJQUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln' }));
    expect(e.errorCodes).toEqual([50027]);
    expect(e.errorDescription).toBe('AADSTS50027: bad token [redacted]');
  });

  test('429 / 503 error bodies are retryable and carry Retry-After', () => {
    const e = failure(answer(429, { error: 'temporarily_unavailable' }, { 'retry-after': '7' }));
    expect(e).toMatchObject({ code: 'ERR_OAUTH_ERROR', retryable: true, retryAfterMs: 7000 });
    expect(failure(answer(503, { error: 'temporarily_unavailable' })).retryable).toBe(true);
  });

  test('an HTML page: status, content type and first bytes, with JWT-shaped text redacted', () => {
    const html = `<html><head><title>502 Bad Gateway</title></head><body>upstream said eyJhbGciOiJQUzI1NiJ9.eyJzdWIi ${'x'.repeat(500)}</body></html>`;
    const e = failure(answer(502, html, { 'content-type': 'text/html' }));
    expect(e).toMatchObject({ code: 'ERR_NON_JSON_RESPONSE', status: 502, contentType: 'text/html', retryable: true });
    expect(e.bodyPreview).toMatch(/^<html><head><title>502 Bad Gateway<\/title>/);
    expect(e.bodyPreview!.length).toBeLessThanOrEqual(200);
    expect(e.bodyPreview).toContain('[redacted]');
    expect(e.message).not.toContain('eyJ');
  });

  test('a redirect is reported, not followed', () => {
    const e = failure(answer(302, '', { location: 'https://login.example/other?x=1' }));
    expect(e.code).toBe('ERR_UNEXPECTED_RESPONSE');
    expect(e.message).toContain('https://login.example/other');
    expect(e.message).not.toContain('x=1');
  });

  test('a JSON body that is no OAuth error', () => {
    expect(failure(answer(500, {}))).toMatchObject({ code: 'ERR_UNEXPECTED_RESPONSE', retryable: true });
    expect(failure(answer(200, '[1,2]')).code).toBe('ERR_NON_JSON_RESPONSE');
  });
});
