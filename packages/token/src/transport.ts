/**
 * The transport: every HTTP request this package makes goes through here —
 * the client credentials grant's form POST (RFC 6749 §4.4.2, RFC 7521 §4.2,
 * RFC 7523 §2.2), the metadata GET of discovery, and the resource calls of
 * `createAuthorizedFetch` — with one URL policy (`url-policy.ts`) and, when
 * given, one `undici` dispatcher (proxy, extra CA, TLS client certificate:
 * `dispatcher.ts`).
 *
 * For the authorization server:
 * - Redirects are not followed (`redirect: 'manual'`): a token endpoint that
 *   redirects is misconfigured, and following would resend the credential.
 * - A per-attempt timeout and the caller's `AbortSignal` both abort the
 *   exchange, body included.
 * - The body is read as a stream and abandoned once it exceeds the size cap.
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import { abortError } from './abort.js';
import { TokenRequestError } from './errors.js';
import { redact, sanitizeError } from './redact.js';
import { displayUrl, urlProblem } from './url-policy.js';

/** How requests are sent (every request of one credential shares these). */
export interface Connection {
  /** The `fetch` to use. Default: the global `fetch`, or `undici`'s own when there is a dispatcher. */
  readonly fetch?: typeof globalThis.fetch;
  /** An `undici` dispatcher (proxy, extra CA, client certificate): see `createDispatcher`. */
  readonly dispatcher?: Dispatcher;
}

/** Transport options of one exchange with an authorization server. */
export interface HttpOptions extends Connection {
  /** Abort the exchange after this many milliseconds. Default 10,000. */
  readonly timeoutMs?: number;
  /** Refuse a response body larger than this many bytes. Default 1,048,576 (1 MiB). */
  readonly maxResponseBytes?: number;
  /** The caller's signal. */
  readonly signal?: AbortSignal;
}

/** Default per-attempt timeout: 10 s. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Default response body cap: 1 MiB (an Entra access token is 1–4 KB; a large one with many group claims stays well below). */
export const DEFAULT_MAX_RESPONSE_BYTES = 1_048_576;

/** A response read in full. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Uint8Array;
}

/**
 * POST an `application/x-www-form-urlencoded` body and read the answer.
 *
 * @param headers - extra request headers, e.g. Entra's `client-request-id`
 * @throws {@link TokenRequestError} `ERR_TIMEOUT`, `ERR_ABORTED`, `ERR_NETWORK`, `ERR_RESPONSE_TOO_LARGE`
 */
export function postForm(
  url: string,
  body: URLSearchParams,
  options: HttpOptions = {},
  headers: Readonly<Record<string, string>> = {},
): Promise<HttpResponse> {
  // The credential sent: never echoed back into an error by a transport that quotes the request.
  const secrets = ['client_assertion', 'client_secret'].flatMap((name) => body.getAll(name));
  return exchange(
    url,
    {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: body.toString(),
    },
    options,
    secrets,
  );
}

/**
 * GET a JSON document (authorization server metadata) and read the answer.
 *
 * @throws {@link TokenRequestError} `ERR_TIMEOUT`, `ERR_ABORTED`, `ERR_NETWORK`, `ERR_RESPONSE_TOO_LARGE`
 */
export function getJson(url: string, options: HttpOptions = {}): Promise<HttpResponse> {
  return exchange(url, { method: 'GET', headers: { accept: 'application/json' } }, options);
}

async function exchange(url: string, init: RequestInit, options: HttpOptions, secrets: readonly string[] = []): Promise<HttpResponse> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(Math.max(1, timeoutMs));
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    const response = await send(url, { ...init, redirect: 'manual', signal }, options);
    const body = await readCapped(response, options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, secrets);
    return { status: response.status, headers: response.headers, body };
  } catch (cause) {
    if (cause instanceof TokenRequestError) throw cause;
    if (timeout.aborted) {
      throw new TokenRequestError('ERR_TIMEOUT', `No complete answer from ${displayUrl(url)} within ${timeoutMs} ms.`, { retryable: true });
    }
    if (options.signal?.aborted) throw abortError();
    throw new TokenRequestError('ERR_NETWORK', `The request to ${displayUrl(url)} failed: ${redact(networkReason(cause), secrets)}.`, {
      cause: sanitizeError(cause, secrets),
      retryable: true,
    });
  }
}

/**
 * Call a protected resource with `init` as given (the caller adds the token),
 * under the URL policy: `https:`, or `http:` to loopback (RFC 6750 §5.3).
 * The response is the caller's to read.
 *
 * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS` for any other URL, before anything is sent
 */
export async function fetchResource(input: string | URL | Request, init: RequestInit | undefined, connection: Connection): Promise<Response> {
  checkResourceUrl(input);
  return send(input, init ?? {}, connection);
}

/**
 * The URL policy for a resource call that carries a token.
 *
 * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS` unless `https:`, or `http:` to loopback
 */
export function checkResourceUrl(input: string | URL | Request): void {
  const url = input instanceof Request ? input.url : String(input);
  const problem = urlProblem(url);
  if (problem !== undefined) throw new TokenRequestError('ERR_INVALID_OPTIONS', `The resource URL ${problem}; no token was sent.`);
}

/** One `fetch` through the connection's dispatcher; `undici` is loaded only when there is one. */
async function send(input: string | URL | Request, init: RequestInit, { fetch, dispatcher }: Connection): Promise<Response> {
  if (dispatcher === undefined) return (fetch ?? globalThis.fetch)(input, init);
  // undici's RequestInit names `dispatcher`; the DOM one does not.
  const withDispatcher: RequestInit = Object.assign({ ...init }, { dispatcher });
  if (fetch !== undefined) return fetch(input, withDispatcher);
  const undici = await import('undici');
  type UndiciArguments = Parameters<typeof undici.fetch>;
  return (await undici.fetch(input as UndiciArguments[0], withDispatcher as UndiciArguments[1])) as unknown as Response;
}

/** `fetch failed (ECONNREFUSED)`: undici puts the socket error in `cause`. */
function networkReason(cause: unknown): string {
  const inner = (cause as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const code = typeof inner?.code === 'string' ? inner.code : typeof inner?.message === 'string' ? inner.message : undefined;
  const message = cause instanceof Error ? cause.message : String(cause);
  return code ? `${message} (${code})` : message;
}

async function readCapped(response: Response, maxBytes: number, secrets: readonly string[]): Promise<Uint8Array> {
  const contentType = response.headers.get('content-type');
  const tooLarge = () =>
    new TokenRequestError('ERR_RESPONSE_TOO_LARGE', `The response body exceeds ${maxBytes} bytes: refused.`, {
      status: response.status,
      contentType: contentType === null ? undefined : redact(contentType, secrets),
    });
  if (Number(response.headers.get('content-length')) > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (response.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > maxBytes) throw tooLarge(); // leaving the loop cancels the stream
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
