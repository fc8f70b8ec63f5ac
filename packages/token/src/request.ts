/**
 * One HTTP exchange with an authorization server: the client credentials
 * grant's form POST (RFC 6749 §4.4.2, RFC 7521 §4.2, RFC 7523 §2.2) and the
 * metadata GET of discovery, through the global (or a given) `fetch`.
 *
 * - `https:` only; `http:` only to loopback (RFC 6749 §3.2 requires TLS).
 * - Redirects are not followed (`redirect: 'manual'`): a token endpoint that
 *   redirects is misconfigured, and following would resend the credential.
 * - A per-attempt timeout and the caller's `AbortSignal` both abort the
 *   exchange, body included.
 * - The body is read as a stream and abandoned once it exceeds the size cap.
 *
 * @module
 */
import { TokenRequestError } from './errors.js';
import { redact, sanitizeError } from './redact.js';

/** Transport options of one exchange. */
export interface HttpOptions {
  /** The `fetch` to use. Default: the global `fetch` (Node's undici). */
  readonly fetch?: typeof globalThis.fetch;
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
 * Whether `url` may carry a client credential: `https:`, or `http:` to a
 * loopback host (`localhost`, `127.0.0.0/8`, `::1`) for tests. URLs with user
 * info or a fragment are refused too.
 *
 * @returns the problem, or `undefined` when the URL is acceptable
 */
export function insecureUrlProblem(url: URL): string | undefined {
  if (url.username !== '' || url.password !== '') return 'must not contain a user name or password';
  if (url.hash !== '') return 'must not contain a fragment';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return undefined;
  return 'must use https: (http: is allowed only to localhost, 127.0.0.0/8 and [::1])';
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * The form body of a client credentials token request (RFC 6749 §4.4.2):
 * `grant_type=client_credentials`, then `parameters` in order.
 */
export function clientCredentialsGrantBody(parameters: Readonly<Record<string, string>>): URLSearchParams {
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  for (const [name, value] of Object.entries(parameters)) body.set(name, value);
  return body;
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
  const doFetch = options.fetch ?? globalThis.fetch;
  try {
    const response = await doFetch(url, { ...init, redirect: 'manual', signal });
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
 * A URL for messages and events: without query and fragment, which RFC 6749
 * §3.2 allows in an endpoint URL and a gateway may use for an API key.
 */
export function displayUrl(url: string): string {
  return url.split(/[?#]/, 1)[0]!;
}

/** The `ERR_ABORTED` error for a caller's `AbortSignal`. */
export function abortError(): TokenRequestError {
  return new TokenRequestError('ERR_ABORTED', 'The token request was aborted by the caller.');
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

/**
 * Wait for `promise`, or reject with `ERR_ABORTED` as soon as `signal` fires.
 * The work behind `promise` goes on (other callers may share it).
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
