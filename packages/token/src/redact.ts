/**
 * The one redaction policy of `@x/token`: what is removed from anything that
 * leaves the package (error messages and fields, `cause` chains, events).
 * Imports nothing, so a CLI can use it without loading the rest
 * (`@x/token/redact`).
 *
 * Removed: each known secret of the exchange (the client assertion or client
 * secret sent; as sent, URI- and form-encoded; any length), anything shaped
 * like a JWS/JWT (an assertion, an access token), whole or cut short, and the
 * values of token-bearing JSON members and form parameters (`access_token`,
 * `refresh_token`, `id_token`, `client_secret`, `client_assertion`,
 * `assertion`). Text is always redacted in full first and cut afterwards, so
 * no cut leaves a secret's prefix behind.
 *
 * @module
 */

/** What replaces a removed value. */
const REDACTED = '[redacted]';

const JWT_LIKE = /eyJ[\w-]*(?:\.[\w-]*){0,2}/g;
const TOKEN_MEMBERS = 'access_token|refresh_token|id_token|client_secret|client_assertion|assertion';
/** The value of a token-bearing JSON member, closing quote or not (a truncated body). */
const TOKEN_MEMBER_JSON = new RegExp(`("(?:${TOKEN_MEMBERS})"\\s*:\\s*")(?:[^"\\\\]|\\\\.)*`, 'g');
/** The value of a token-bearing form or query parameter. */
const TOKEN_MEMBER_FORM = new RegExp(`(\\b(?:${TOKEN_MEMBERS})=)[^&\\s"'<>]*`, 'g');

/**
 * Redact `text` (see the module documentation).
 *
 * @param secrets - the secrets of this exchange (assertion, client secret), removed in every encoding sent
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret === '') continue;
    for (const form of new Set([secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)])) {
      out = out.split(form).join(REDACTED);
    }
  }
  return out.replace(JWT_LIKE, REDACTED).replace(TOKEN_MEMBER_JSON, `$1${REDACTED}`).replace(TOKEN_MEMBER_FORM, `$1${REDACTED}`);
}

/** How deep a `cause` chain is kept (`fetch failed` → `ECONNRESET`). */
const MAX_CAUSE_DEPTH = 2;

/**
 * The one sanitiser for errors leaving `@x/token`: this package's
 * `TokenRequestError` and `@x/assertion`'s `CredentialError` keep their class
 * and `code` with their message redacted and their `cause` sanitised; any
 * other thrown value (a transport error, an external signer's error) becomes
 * a fresh `Error` with only its name, string `code` and redacted message,
 * and the same for its `cause`, two levels deep, so no request, response or
 * key object survives.
 *
 * @param secrets - the secrets of this exchange, removed from every message
 */
export function sanitizeError(error: unknown, secrets: readonly string[] = [], depth = 0): Error {
  const inner = error instanceof Error ? error.cause : undefined;
  const cause = inner !== undefined && depth < MAX_CAUSE_DEPTH ? sanitizeError(inner, secrets, depth + 1) : undefined;
  if (error instanceof Error && (error.name === 'TokenRequestError' || error.name === 'CredentialError' || isAbortError(error))) {
    const clean = redact(error.message, secrets);
    if (clean !== error.message) error.message = clean;
    if (error.stack !== undefined) error.stack = redact(error.stack, secrets);
    if (inner !== cause) Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
    return error;
  }
  const fresh = new Error(redact(error instanceof Error ? error.message : String(error), secrets), cause ? { cause } : undefined);
  if (error instanceof Error) fresh.name = error.name;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') (fresh as Error & { code?: string }).code = code;
  return fresh;
}

/** `@x/token`'s own abort error (see `abortError`): a `TokenRequestError` named `AbortError`. */
function isAbortError(error: Error): boolean {
  return error.name === 'AbortError' && (error as { code?: unknown }).code === 'ERR_ABORTED';
}

/** The `code` (`ERR_UNKNOWN` when it has none) and redacted message of any thrown value, for events. */
export function describeError(error: unknown): { code: string; message: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return { code: typeof code === 'string' ? code : 'ERR_UNKNOWN', message: redact(error instanceof Error ? error.message : String(error)) };
}
