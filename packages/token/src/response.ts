/**
 * Interpreting a token endpoint's answer: a successful response (RFC 6749
 * §5.1) or an error response (RFC 6749 §5.2, with Microsoft Entra ID's
 * additions), validated with zod.
 *
 * Entra ID v1 (`/oauth2/token`) sends numbers as strings (`"expires_in":
 * "3599"`, `expires_on`, `not_before`); v2 (`/oauth2/v2.0/token`) sends
 * numbers (`expires_in`, `ext_expires_in`, sometimes `refresh_in`). Both are
 * accepted. A token without a usable `expires_in` is refused: never a token
 * with no expiry.
 *
 * Sources: RFC 6749 §5.1–5.2, §7.1; learn.microsoft.com
 * `entra/identity-platform/v2-oauth2-client-creds-grant-flow` (successful
 * response, error response) and `azuread-dev/v1-oauth2-client-creds-grant-flow`.
 *
 * @module
 */
import { lazySchema } from '@x/assertion/internal';
import type { Zod } from './options.js';
import { TokenRequestError } from './errors.js';
import { redact } from './redact.js';
import type { HttpResponse } from './transport.js';
import { isRetryableStatus, parseRetryAfter } from './retry.js';

/**
 * A successful token response, camel-cased, with absolute times computed.
 * Frozen. Times are milliseconds since the epoch, durations in seconds as sent.
 */
/** The token types this package can present (see `createAuthorizedFetch`). */
export type TokenType = 'Bearer' | 'DPoP' | 'mtls_pop';

export interface TokenResponse {
  /** The access token. Treat it as a secret. */
  readonly accessToken: string;
  /**
   * `token_type` (any case on the wire): `Bearer` (RFC 6750; also RFC 8705
   * certificate-bound tokens), `DPoP` (RFC 9449 §5) or Entra's `mtls_pop`.
   * Any other type is refused (`ERR_UNSUPPORTED_TOKEN_TYPE`).
   */
  readonly tokenType: TokenType;
  /** `expires_in`: lifetime in seconds, as sent. */
  readonly expiresIn: number;
  /** When the token expires: the request's start time + `expires_in` (conservative, and immune to clock skew). */
  readonly expiresOnTimestamp: number;
  /** `scope` granted (v2 and generic servers). */
  readonly scope?: string;
  /** `resource` (v1). */
  readonly resource?: string;
  /** `ext_expires_in` (Entra): seconds the token stays usable during an Entra outage. */
  readonly extExpiresIn?: number;
  /** `refresh_in` (Entra): seconds after which Entra recommends fetching a new token. */
  readonly refreshIn?: number;
  /** `expires_on` (v1): expiry, seconds since the epoch, by the server's clock. */
  readonly expiresOn?: number;
  /** `not_before` (v1): start of validity, seconds since the epoch, by the server's clock. */
  readonly notBefore?: number;
}

/** The longest `expires_in` accepted: one year. Anything longer is nonsense for an access token. */
const MAX_LIFETIME_SECONDS = 31_536_000;

/** Member types: a positive number or its decimal string (Entra v1); members dropped when malformed. */
const members = (z: Zod) => {
  const numeric = z.union([z.number(), z.string().trim().regex(/^\d+(\.\d+)?$/).transform(Number)]).pipe(z.number().positive());
  return { numeric, optionalNumber: numeric.optional().catch(undefined), optionalString: z.string().optional().catch(undefined) };
};

/** A successful token response (RFC 6749 §5.1, Entra's additions). */
const successSchema = lazySchema((z) => {
  const { numeric, optionalNumber, optionalString } = members(z);
  return z.object({
    access_token: z.string().min(1),
    token_type: z.string().min(1),
    expires_in: numeric.pipe(z.number().max(MAX_LIFETIME_SECONDS)),
    scope: optionalString,
    resource: optionalString,
    ext_expires_in: optionalNumber,
    refresh_in: optionalNumber,
    expires_on: optionalNumber,
    not_before: optionalNumber,
  });
});

/** An error response (RFC 6749 §5.2, Entra's additions). */
const errorSchema = lazySchema((z) => {
  const { optionalString } = members(z);
  return z.object({
    error: z.string().min(1),
    error_description: optionalString,
    error_codes: z.array(z.number().int()).optional().catch(undefined),
    trace_id: optionalString,
    correlation_id: optionalString,
    timestamp: optionalString,
  });
});

/**
 * Turn an HTTP answer from a token endpoint into a {@link TokenResponse}, or
 * throw what went wrong.
 *
 * @param response - the answer, read in full
 * @param requestedAt - when the request was sent, milliseconds since the epoch: `expires_in` counts from here
 * @param secrets - the credential the request sent (assertion, client secret): redacted, with anything
 *   JWT-shaped and token-bearing members, from every string of the answer kept in an error
 * @throws {@link TokenRequestError}
 *   `ERR_OAUTH_ERROR` (an `error` body: RFC 6749 §5.2),
 *   `ERR_NON_JSON_RESPONSE` (HTML from a proxy, an empty body…),
 *   `ERR_UNEXPECTED_RESPONSE` (JSON that is neither; a redirect),
 *   `ERR_NO_ACCESS_TOKEN`, `ERR_INVALID_TOKEN_RESPONSE` (missing or nonsense `expires_in`),
 *   `ERR_UNSUPPORTED_TOKEN_TYPE` (a `token_type` other than Bearer: `pop`, `DPoP`…).
 *   `retryable` is set from the status (408, 429, 500, 502, 503, 504), and
 *   `retryAfterMs` from `Retry-After`.
 */
export function processTokenResponse(response: HttpResponse, requestedAt: number, secrets: readonly string[] = []): TokenResponse {
  const json = parseJsonObject(response);
  if (json !== undefined && typeof json.error === 'string') throw oauthError(response, json, secrets);
  const ok = response.status >= 200 && response.status < 300;
  if (!ok || json === undefined) throw unexpected(response, json !== undefined, secrets);

  const parsed = successSchema().safeParse(json);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? '(body)')))];
    if (fields.includes('access_token')) {
      throw new TokenRequestError('ERR_NO_ACCESS_TOKEN', `HTTP ${response.status} without an access_token: refused.`, {
        status: response.status,
      });
    }
    throw new TokenRequestError(
      'ERR_INVALID_TOKEN_RESPONSE',
      `The token response is unusable: ${fields.join(', ')} missing or invalid ` +
        '(expires_in must be a positive number of seconds, at most one year).',
      { status: response.status },
    );
  }
  const body = parsed.data;
  const tokenType = acceptedTokenType(body.token_type);
  if (tokenType === undefined) {
    throw new TokenRequestError(
      'ERR_UNSUPPORTED_TOKEN_TYPE',
      `The token response has token_type ${JSON.stringify(redact(body.token_type, secrets).slice(0, 20))}; only Bearer, DPoP and mtls_pop tokens are supported.`,
      { status: response.status },
    );
  }
  const expiresOnTimestamp = requestedAt + body.expires_in * 1000;
  return Object.freeze({
    accessToken: body.access_token,
    tokenType,
    expiresIn: body.expires_in,
    expiresOnTimestamp,
    ...defined({
      scope: body.scope,
      resource: body.resource,
      extExpiresIn: body.ext_expires_in,
      refreshIn: body.refresh_in,
      expiresOn: body.expires_on,
      notBefore: body.not_before,
    }),
  });
}

const TOKEN_TYPES: ReadonlyMap<string, TokenType> = new Map([
  ['bearer', 'Bearer'],
  ['dpop', 'DPoP'],
  ['mtls_pop', 'mtls_pop'],
]);

/**
 * The token types this package can use (RFC 6749 §7.1, case-insensitive):
 * `Bearer` (RFC 6750), `DPoP` (RFC 9449 §5), `mtls_pop` (Entra mTLS PoP).
 * Whether the type is the one asked for is the client's check.
 */
function acceptedTokenType(type: string): TokenType | undefined {
  return TOKEN_TYPES.get(type.toLowerCase());
}

/**
 * Parse a JSON object from a metadata or token answer.
 *
 * @returns the object, or `undefined` when the body is not a JSON object
 */
export function parseJsonObject(response: HttpResponse): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(response.body).toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const AADSTS = /\bAADSTS(\d+)\b/g;

/** A {@link TokenRequestError} from an OAuth error body (RFC 6749 §5.2) with Entra's fields. */
function oauthError(response: HttpResponse, json: Record<string, unknown>, secrets: readonly string[]): TokenRequestError {
  const parsed = errorSchema().safeParse(json);
  // `{"error":""}` and other broken error bodies: still a typed error, never a raw ZodError.
  if (!parsed.success) return unexpected(response, true, secrets);
  const body = parsed.data;
  const clean = (text: string | undefined) => (text === undefined ? undefined : redact(text, secrets));
  const error = redact(body.error, secrets);
  const description = clean(body.error_description);
  const errorCodes = body.error_codes ?? [...(description ?? '').matchAll(AADSTS)].map((m) => Number(m[1]));
  const firstLine = description?.split(/\r?\n/, 1)[0];
  return new TokenRequestError(
    'ERR_OAUTH_ERROR',
    `The token endpoint answered HTTP ${response.status} ${error}${firstLine ? `: ${firstLine}` : ''}`,
    {
      status: response.status,
      error,
      errorDescription: description,
      errorCodes: errorCodes.length > 0 ? errorCodes : undefined,
      traceId: clean(body.trace_id),
      correlationId: clean(body.correlation_id),
      timestamp: clean(body.timestamp),
      ...retryFields(response),
    },
  );
}

/** A body that is neither a token nor an OAuth error. */
function unexpected(response: HttpResponse, isJson: boolean, secrets: readonly string[]): TokenRequestError {
  const { status } = response;
  const rawContentType = response.headers.get('content-type');
  const contentType = rawContentType === null ? undefined : redact(rawContentType, secrets);
  if (status >= 300 && status < 400) {
    const location = response.headers.get('location');
    const target = location ? ` to ${redact(location.split(/[?#]/, 1)[0]!, secrets)}` : '';
    return new TokenRequestError(
      'ERR_UNEXPECTED_RESPONSE',
      `The endpoint redirected (HTTP ${status}${target}); redirects are not followed: configure the final URL.`,
      { status, contentType },
    );
  }
  if (isJson) {
    return new TokenRequestError('ERR_UNEXPECTED_RESPONSE', `HTTP ${status} with a JSON body that is not an OAuth error.`, {
      status,
      contentType,
      ...retryFields(response),
    });
  }
  const bodyPreview = preview(response.body, secrets);
  return new TokenRequestError(
    'ERR_NON_JSON_RESPONSE',
    `HTTP ${status} with a body that is not JSON (${contentType ?? 'no content type'}` +
      `${bodyPreview ? `: ${JSON.stringify(bodyPreview)}` : ', empty'}); a proxy or gateway may have answered.`,
    { status, contentType, bodyPreview, ...retryFields(response) },
  );
}

/** `retryable` and `retryAfterMs` from the status and `Retry-After`. */
function retryFields(response: HttpResponse): { retryable: boolean; retryAfterMs: number | undefined } {
  return {
    retryable: isRetryableStatus(response.status),
    retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), response.headers.get('date'), Date.now()),
  };
}

/** Characters of a non-JSON body kept in `bodyPreview`. */
const PREVIEW_CHARS = 200;

/** The first {@link PREVIEW_CHARS} characters of a body, whitespace collapsed; the whole body redacted before the cut. */
function preview(body: Uint8Array, secrets: readonly string[]): string {
  const clean = redact(Buffer.from(body).toString('utf8'), secrets);
  return clean.replace(/[\s\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, PREVIEW_CHARS);
}

/** Drop `undefined` members so the frozen result lists only what the server sent. */
function defined<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}
