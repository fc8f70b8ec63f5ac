/**
 * The transport: every HTTP request this package makes goes through here —
 * the client credentials grant's form POST (RFC 6749 §4.4.2, RFC 7521 §4.2,
 * RFC 7523 §2.2), the metadata GET of discovery, and the resource calls of
 * `createAuthorizedFetch` — with one URL policy (`url-policy.ts`) and, when
 * given, one `undici` dispatcher (proxy, extra CA, TLS client certificate:
 * `dispatcher.ts`).
 *
 * For the authorization server, the request goes through Node's own
 * `node:https` / `node:http` unless a `fetch` or a dispatcher is given (as
 * MSAL Node and `@azure/core-rest-pipeline` do: starting `fetch` costs a cold
 * process ~80 ms more than `node:http`, most of a first token; issue 12), and:
 * - Redirects are not followed (`redirect: 'manual'`): a token endpoint that
 *   redirects is misconfigured, and following would resend the credential.
 * - A per-attempt timeout and the caller's `AbortSignal` both abort the
 *   exchange, body included.
 * - The body is read as a stream and abandoned once it exceeds the size cap.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
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

/** Response headers, looked up by case-insensitive name (a WHATWG `Headers` is one). */
export interface ResponseHeaders {
  /** The header's value (repeated ones joined with `, `), or `null`. */
  get(name: string): string | null;
}

/** A response read in full. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: ResponseHeaders;
  readonly body: Uint8Array;
}

/** One request to the authorization server. */
interface ServerRequest {
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
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

async function exchange(url: string, request: ServerRequest, options: HttpOptions, secrets: readonly string[] = []): Promise<HttpResponse> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(Math.max(1, timeoutMs));
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  try {
    if (options.fetch === undefined && options.dispatcher === undefined) return await nodeExchange(url, request, signal, maxBytes, secrets);
    const response = await send(url, { ...request, redirect: 'manual', signal }, options);
    const body = await readCapped(response.body as AsyncIterable<Uint8Array> | null, response.status, response.headers, maxBytes, secrets);
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

/**
 * One exchange over `node:https` (`node:http` for a loopback `http:` URL the URL policy allowed), which never
 * follows a redirect; `signal` aborts it, body included.
 */
async function nodeExchange(url: string, request: ServerRequest, signal: AbortSignal, maxBytes: number, secrets: readonly string[]): Promise<HttpResponse> {
  const http = url.startsWith('https:') ? await import('node:https') : await import('node:http');
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const sent = http.request(url, { method: request.method, headers: request.headers, signal }, resolve);
    sent.on('error', reject);
    sent.end(request.body);
  });
  const headers: ResponseHeaders = {
    get: (name) => {
      const value = response.headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    },
  };
  const status = response.statusCode ?? 0;
  return { status, headers, body: await readCapped(response, status, headers, maxBytes, secrets) };
}

/** The whole body, refused once it exceeds `maxBytes` (leaving the stream's iterator gives the stream up). */
async function readCapped(
  body: AsyncIterable<Uint8Array> | null,
  status: number,
  headers: ResponseHeaders,
  maxBytes: number,
  secrets: readonly string[],
): Promise<Uint8Array> {
  const contentType = headers.get('content-type');
  const tooLarge = () =>
    new TokenRequestError('ERR_RESPONSE_TOO_LARGE', `The response body exceeds ${maxBytes} bytes: refused.`, {
      status,
      contentType: contentType === null ? undefined : redact(contentType, secrets),
    });
  if (body === null) return new Uint8Array(0);
  if (Number(headers.get('content-length')) > maxBytes) {
    await body[Symbol.asyncIterator]().return?.()?.catch(() => {});
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
