/**
 * Error answers shaped as Microsoft Entra ID's token endpoint shapes them:
 * `{ error, error_description: "AADSTS…: …\r\nTrace ID: …\r\nCorrelation ID: …\r\nTimestamp: …", error_codes, timestamp, trace_id, correlation_id, error_uri }`.
 *
 * @module
 */

/** The OAuth `error` values Entra uses on its token endpoint. */
export type EntraErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_scope'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'temporarily_unavailable'
  | 'server_error';

/**
 * A refusal by the Entra-like server, carrying its AADSTS number.
 *
 * @internal
 */
export class EntraError extends Error {
  override readonly name = 'EntraError';
  /**
   * @param status - HTTP status (400, or 401 for `invalid_client`).
   * @param error - OAuth error code.
   * @param code - AADSTS number, e.g. `700027`.
   * @param message - Text after `AADSTS<code>: `.
   */
  constructor(
    readonly status: number,
    readonly error: EntraErrorCode,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Identifiers Entra puts in every error answer. @internal */
export interface ErrorContext {
  /** Per-request id (`trace_id`, also the `x-ms-request-id` header). */
  traceId: string;
  /** The caller's `client-request-id` when it sent one, else a fresh id. */
  correlationId: string;
  /** Base URL used for `error_uri`. */
  origin: string;
  /** Answer time. */
  now: Date;
}

/**
 * Formats a time as Entra does in error answers: `2016-01-09 02:02:12Z`.
 *
 * @internal
 */
export function entraTimestamp(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/**
 * The JSON body of an Entra error answer.
 *
 * @internal
 */
export function entraErrorBody(
  error: string,
  code: number,
  message: string,
  context: ErrorContext,
): Record<string, unknown> {
  const timestamp = entraTimestamp(context.now);
  return {
    error,
    error_description:
      `AADSTS${code}: ${message}\r\nTrace ID: ${context.traceId}` +
      `\r\nCorrelation ID: ${context.correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: context.traceId,
    correlation_id: context.correlationId,
    error_uri: `${context.origin}/error?code=${code}`,
  };
}

/** `AADSTS900144`: a required form field is missing. @internal */
export const missingParameter = (name: string): EntraError =>
  new EntraError(400, 'invalid_request', 900144, `The request body must contain the following parameter: '${name}'.`);

/** The page Entra's messages point to about certificate credentials. @internal */
export const CERTIFICATE_CREDENTIALS_DOC = 'https://learn.microsoft.com/entra/identity-platform/certificate-credentials';
