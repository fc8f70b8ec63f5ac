/**
 * Calling a protected resource with the token: a `fetch` that adds
 * `Authorization: Bearer …` (RFC 6750 §2.1) and, when the resource answers
 * 401, fetches a new token once and repeats the request.
 *
 * @module
 */
import type { AccessToken } from './cache.js';
import type { GetTokenOptions } from './client.js';
import { TokenRequestError } from './errors.js';
import { insecureUrlProblem } from './request.js';

/** Anything with a `getToken` that honours `forceRefresh`: every credential of this package. */
export interface RefreshableTokenSource {
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken>;
}

/** Options of {@link createAuthorizedFetch}. */
export interface AuthorizedFetchOptions {
  /** The `fetch` to call the resource with. Default: the global `fetch`. */
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
  const doFetch = options.fetch ?? globalThis.fetch;
  const send = async (input: string | URL | Request, init: RequestInit | undefined, forceRefresh: boolean) => {
    const problem = insecureUrlProblem(new URL(input instanceof Request ? input.url : input));
    if (problem !== undefined) {
      throw new TokenRequestError('ERR_INVALID_OPTIONS', `createAuthorizedFetch: the resource URL ${problem}; no token was sent.`);
    }
    const { token } = await credential.getToken(scopes, { abortSignal: init?.signal ?? undefined, forceRefresh });
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set('authorization', `Bearer ${token}`);
    return doFetch(input, { ...init, headers });
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
