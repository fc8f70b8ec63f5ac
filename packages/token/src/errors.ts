/**
 * The one error family of `@x/token`.
 *
 * Every failure this package reports itself is a {@link TokenRequestError}
 * with a stable {@link TokenErrorCode}. Failures to load or sign with the
 * certificate are `@x/assertion`'s `CredentialError`, passed through after
 * the same sanitising as every other error (`redact.ts`). Messages, fields and
 * `cause` chains never hold a client assertion, an access token, a private
 * key, a passphrase or a client secret.
 *
 * @module
 */
import { sanitizeError } from './redact.js';

/** Stable error codes. Match on these, never on the message text. */
export const TokenErrorCode = {
  /** The server answered with an OAuth error body (RFC 6749 §5.2), e.g. `invalid_client` / AADSTS700027. */
  OAUTH_ERROR: 'ERR_OAUTH_ERROR',
  /** The body is not JSON: typically an HTML page from a proxy or gateway, or a redirect (never followed). */
  NON_JSON_RESPONSE: 'ERR_NON_JSON_RESPONSE',
  /** A JSON body that is neither a token response nor an OAuth error (e.g. a 5xx with `{}`). */
  UNEXPECTED_RESPONSE: 'ERR_UNEXPECTED_RESPONSE',
  /** A success status without an `access_token` (RFC 6749 §5.1 makes it REQUIRED). */
  NO_ACCESS_TOKEN: 'ERR_NO_ACCESS_TOKEN',
  /** A token response whose `expires_in` is missing or nonsense (no token without a known expiry), or a token already within the expiry margin on arrival. */
  INVALID_TOKEN_RESPONSE: 'ERR_INVALID_TOKEN_RESPONSE',
  /**
   * A token response whose `token_type` is not one this package can present (`Bearer`, `DPoP`, `mtls_pop`), or
   * a bound type the credential did not ask for: never sent as a bearer token.
   */
  UNSUPPORTED_TOKEN_TYPE: 'ERR_UNSUPPORTED_TOKEN_TYPE',
  /**
   * `proofOfPossession` was asked for and the server answered an unbound token (`Bearer` without `cnf`):
   * refused unless `allowTokenTypeDowngrade` (RFC 9449 §5, RFC 8705 §3).
   */
  TOKEN_NOT_BOUND: 'ERR_TOKEN_NOT_BOUND',
  /** The response body exceeded `maxResponseBytes`. */
  RESPONSE_TOO_LARGE: 'ERR_RESPONSE_TOO_LARGE',
  /** An attempt exceeded `timeoutMs` (or the retry budget's remaining time). */
  TIMEOUT: 'ERR_TIMEOUT',
  /** The connection failed: DNS, refused, reset, TLS, or the body was cut off. */
  NETWORK: 'ERR_NETWORK',
  /** The caller's `AbortSignal` fired. The error is named `AbortError`. */
  ABORTED: 'ERR_ABORTED',
  /**
   * `getToken`'s `tenantId` names a tenant the credential may not serve: neither the configured one nor one in
   * `additionallyAllowedTenants` (`'*'` allows any), or the credential has a fixed `tokenEndpoint` / `issuer`.
   */
  TENANT_NOT_ALLOWED: 'ERR_TENANT_NOT_ALLOWED',
  /** Constructor or call options failed validation (including a non-`https:` URL off loopback). */
  INVALID_OPTIONS: 'ERR_INVALID_OPTIONS',
  /** Authorization server metadata (RFC 8414 / OpenID Connect Discovery) is unusable. */
  INVALID_METADATA: 'ERR_INVALID_METADATA',
  /** The `getAssertion` callback of a `ClientAssertionCredential` failed or returned no string. */
  ASSERTION_CALLBACK: 'ERR_ASSERTION_CALLBACK',
  /**
   * Token requests for this key are paused fleet-wide (raised by a `TokenStore` that saw a replica throttled);
   * `retryAfterMs` says for how long.
   */
  THROTTLED: 'ERR_THROTTLED',
  /** An admin-consent callback carries a `state` other than the one sent. */
  STATE_MISMATCH: 'ERR_STATE_MISMATCH',
} as const;

/** The union of all {@link TokenErrorCode} values. */
export type TokenErrorCode = (typeof TokenErrorCode)[keyof typeof TokenErrorCode];

/** What the server said, for the fields of {@link TokenRequestError}. */
export interface TokenRequestErrorDetails {
  /** HTTP status of the answer, when there was one. */
  readonly status?: number;
  /** OAuth `error` (RFC 6749 §5.2), e.g. `invalid_client`. */
  readonly error?: string;
  /** OAuth `error_description`; from Entra ID it starts with `AADSTSnnnnnn:`. */
  readonly errorDescription?: string;
  /** Entra ID `error_codes`: the AADSTS numbers, e.g. `[700027]`. */
  readonly errorCodes?: readonly number[];
  /** Entra ID `trace_id`. */
  readonly traceId?: string;
  /** Entra ID `correlation_id`. */
  readonly correlationId?: string;
  /** Entra ID `timestamp` (server time, as sent). */
  readonly timestamp?: string;
  /** The response `Content-Type`, for a body that is not a token response. */
  readonly contentType?: string;
  /** The first bytes of a non-JSON body (at most 200 characters; redacted: JWT-shaped strings, token-bearing members, the credential sent). */
  readonly bodyPreview?: string;
  /** The server's `Retry-After`, in milliseconds from when the answer arrived. */
  readonly retryAfterMs?: number;
  /** Whether trying again later may succeed (network error, timeout, 408, 429, 500, 502, 503, 504). */
  readonly retryable?: boolean;
  /** The underlying error; sanitised (see `sanitizeError`): name, code and redacted message only. */
  readonly cause?: unknown;
}

/**
 * Thrown (or used to reject) by every function of `@x/token` for a failed
 * token request, a bad option or bad server metadata.
 *
 * @example
 * ```ts
 * try { await credential.getToken('https://graph.microsoft.com/.default') }
 * catch (e) {
 *   if (e instanceof TokenRequestError && e.code === 'ERR_OAUTH_ERROR' && e.errorCodes?.includes(700027)) …
 * }
 * ```
 */
export class TokenRequestError extends Error {
  /** A stable, documented code from {@link TokenErrorCode}. */
  readonly code: TokenErrorCode;
  readonly status: number | undefined;
  readonly error: string | undefined;
  readonly errorDescription: string | undefined;
  readonly errorCodes: readonly number[] | undefined;
  readonly traceId: string | undefined;
  readonly correlationId: string | undefined;
  readonly timestamp: string | undefined;
  readonly contentType: string | undefined;
  readonly bodyPreview: string | undefined;
  readonly retryAfterMs: number | undefined;
  /** Whether trying again later may succeed. Retries inside this package have already happened. */
  readonly retryable: boolean;
  /** How many HTTP attempts were made before this error was thrown (1 when none was retried). */
  attempts = 1;

  /**
   * @param code - the stable error code
   * @param message - what went wrong and what to do; must not contain secrets
   * @param details - the server's answer; `cause` is sanitised
   */
  constructor(code: TokenErrorCode, message: string, details: TokenRequestErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: sanitizeError(details.cause) });
    this.name = 'TokenRequestError';
    this.code = code;
    this.status = details.status;
    this.error = details.error;
    this.errorDescription = details.errorDescription;
    this.errorCodes = details.errorCodes;
    this.traceId = details.traceId;
    this.correlationId = details.correlationId;
    this.timestamp = details.timestamp;
    this.contentType = details.contentType;
    this.bodyPreview = details.bodyPreview;
    this.retryAfterMs = details.retryAfterMs;
    this.retryable = details.retryable ?? false;
  }
}

/** `true` when `e` is a {@link TokenRequestError}, optionally with the given code. */
export function isTokenRequestError(e: unknown, code?: TokenErrorCode): e is TokenRequestError {
  return e instanceof TokenRequestError && (code === undefined || e.code === code);
}
