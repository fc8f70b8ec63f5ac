/**
 * Calling a protected resource with the token, presented as its type
 * requires: `Authorization: Bearer …` (RFC 6750 §2.1; a certificate-bound
 * token over the credential's mutual-TLS connection, RFC 8705 §3),
 * `Authorization: DPoP …` with a `DPoP` proof (RFC 9449 §7.1), or
 * `Authorization: mtls_pop …` over mutual TLS (Entra mTLS PoP). When the
 * resource answers 401, a new token is fetched once and the request repeated.
 *
 * @module
 */
import type { AccessToken } from './cache.js';
import type { TokenType } from './response.js';
import type { GetTokenOptions } from './client.js';
import type { DpopProofInput } from './binding/dpop.js';
import { TokenRequestError } from './errors.js';
import { checkResourceUrl, fetchResource, type Connection } from './transport.js';

/**
 * Anything with a `getToken` that honours `forceRefresh`: every credential of
 * this package. With `connection` (every credential of this package), resource
 * calls go through the credential's proxy and dispatcher.
 */
export interface RefreshableTokenSource {
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken<TokenType>>;
  connection?(): Promise<Connection>;
  /** Signs a DPoP proof with the key the credential's DPoP tokens are bound to (needed for `DPoP` tokens). */
  createDpopProof?(input: DpopProofInput): Promise<string>;
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
 * A DPoP resource that answers 401 with `error="use_dpop_nonce"` and a
 * `DPoP-Nonce` gets the request once more with a proof carrying the nonce
 * (RFC 9449 §9); the nonce is kept per origin for later calls.
 *
 * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS` (a rejected call) for any other URL, before a token is fetched;
 *   `ERR_UNSUPPORTED_TOKEN_TYPE` for a `DPoP` token from a source that cannot sign proofs, or a token type it cannot present
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
  /** The latest `DPoP-Nonce` of each resource origin (RFC 9449 §9). */
  const nonces = new Map<string, string>();
  const send = async (input: string | URL | Request, init: RequestInit | undefined, forceRefresh: boolean) => {
    checkResourceUrl(input); // before a token is fetched
    const { token, tokenType } = await credential.getToken(scopes, { abortSignal: init?.signal ?? undefined, forceRefresh });
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    if (tokenType === 'DPoP') {
      if (credential.createDpopProof === undefined) {
        throw new TokenRequestError('ERR_UNSUPPORTED_TOKEN_TYPE', 'A DPoP token needs a credential that signs DPoP proofs; it is never sent as Bearer.');
      }
      const nonce = nonces.get(url.origin);
      headers.set('dpop', await credential.createDpopProof({ htm: method, htu: url.href, accessToken: token, ...(nonce === undefined ? {} : { nonce }) }));
    } else if (tokenType !== 'Bearer' && tokenType !== 'mtls_pop') {
      throw new TokenRequestError('ERR_UNSUPPORTED_TOKEN_TYPE', 'The token has a type this package cannot present; it is never sent as Bearer.');
    }
    headers.set('authorization', `${tokenType} ${token}`);
    // Asked each time: after a certificate rotation the credential's connection presents the new certificate.
    const { dispatcher } = (await credential.connection?.()) ?? {};
    const via: Connection = { ...(options.fetch === undefined ? {} : { fetch: options.fetch }), ...(dispatcher === undefined ? {} : { dispatcher }) };
    const response = await fetchResource(input, { ...init, headers }, via);
    const nonce = tokenType === 'DPoP' ? response.headers.get('dpop-nonce') : null;
    const fresh = nonce !== null && nonce !== '' && nonce.length <= 1024 && nonce !== nonces.get(url.origin);
    if (fresh) nonces.set(url.origin, nonce);
    return { response, nonceChallenge: fresh && response.status === 401 && /error="?use_dpop_nonce/.test(response.headers.get('www-authenticate') ?? '') };
  };
  return async (input, init) => {
    const first = await send(input, init, false);
    if (first.response.status !== 401 || !replayable(input, init)) return first.response;
    await first.response.body?.cancel().catch(() => {});
    // A nonce challenge: the same token with a proof carrying the nonce; otherwise a new token.
    return (await send(input, init, !first.nonceChallenge)).response;
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
