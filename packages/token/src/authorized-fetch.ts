/**
 * Calling a protected resource with the token: a `fetch` that adds
 * `Authorization: Bearer …` (RFC 6750 §2.1) and, when the resource answers
 * 401, fetches a new token once and repeats the request.
 *
 * @module
 */
import type { AccessToken } from './cache.js';
import type { GetTokenOptions } from './client.js';
import { checkResourceUrl, fetchResource, type Connection } from './transport.js';

/**
 * Anything with a `getToken` that honours `forceRefresh`: every credential of
 * this package. With `connection` (every credential of this package), resource
 * calls go through the credential's proxy and dispatcher.
 */
export interface RefreshableTokenSource {
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken>;
  connection?(): Promise<Connection>;
}

/** Options of {@link createAuthorizedFetch}. */
export interface AuthorizedFetchOptions {
  /** The `fetch` to call the resource with. Default: the credential's (see `RefreshableTokenSource.connection`), else the global `fetch`. */
  readonly fetch?: typeof globalThis.fetch;
}

/**
 * A `fetch` for one resource: each call gets a token for `scopes` (from the
 * cache, normally), sends it as a bearer token, and on a 401 answer asks for
 * a new token (`forceRefresh`) and sends the request once more — when its
 * body can be sent twice (none, a string, bytes, `URLSearchParams`,
 * `FormData`, a `Blob`). With a stream body, or a `Request` object as input,
 * the 401 is returned as is. The `signal` of `init` also aborts waiting for
 * the token. The token is sent only under the token endpoint's URL policy:
 * `https:`, or `http:` to loopback (RFC 6750 §5.3: bearer tokens need TLS).
 *
 * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS` (a rejected call) for any other URL, before a token is fetched
 *
 * @example
 * ```ts
 * const api = createAuthorizedFetch(credential, 'https://graph.microsoft.com/.default');
 * const me = await api('https://graph.microsoft.com/v1.0/applications');
 * ```
 */
export function createAuthorizedFetch(
  credential: RefreshableTokenSource,
  scopes: string | string[],
  options: AuthorizedFetchOptions = {},
): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  let connection: Promise<Connection> | undefined;
  const send = async (input: string | URL | Request, init: RequestInit | undefined, forceRefresh: boolean) => {
    checkResourceUrl(input); // before a token is fetched
    const { token } = await credential.getToken(scopes, { abortSignal: init?.signal ?? undefined, forceRefresh });
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set('authorization', `Bearer ${token}`);
    connection ??= credential.connection?.() ?? Promise.resolve({});
    const { dispatcher } = await connection;
    const via: Connection = { ...(options.fetch === undefined ? {} : { fetch: options.fetch }), ...(dispatcher === undefined ? {} : { dispatcher }) };
    return fetchResource(input, { ...init, headers }, via);
  };
  return async (input, init) => {
    const response = await send(input, init, false);
    if (response.status !== 401 || !replayable(input, init)) return response;
    await response.body?.cancel().catch(() => {});
    return send(input, init, true);
  };
}

function replayable(input: string | URL | Request, init: RequestInit | undefined): boolean {
  if (input instanceof Request) return false;
  const body = init?.body;
  return body === undefined || body === null || !(body instanceof ReadableStream || isAsyncIterable(body));
}

function isAsyncIterable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
