/**
 * The engine behind every credential: the client credentials grant (RFC 6749
 * §4.4) against one token endpoint for one client, with a way to
 * authenticate the client supplied by the credential, through the cache,
 * with retries and events.
 *
 * @internal
 * @module
 */
import { randomUUID } from 'node:crypto';
import { EXPIRY_MARGIN_MS, TokenCache, type AccessToken, type CacheEntry } from './cache.js';
import { discoverAuthorizationServer, scopeToResource } from './endpoints.js';
import { TokenRequestError } from './errors.js';
import type { EventSink } from './events.js';
import type { ResolvedOptions } from './options.js';
import { abortable, abortError, clientCredentialsGrantBody, displayUrl, postForm, type HttpOptions } from './request.js';
import { processTokenResponse, type TokenResponse } from './response.js';
import { withRetries } from './retry.js';

/**
 * The client authentication parameters of one token request (RFC 6749
 * §2.3, RFC 7521 §4.2), e.g. `client_assertion_type` and `client_assertion`.
 * Called once per HTTP attempt, so each attempt carries a fresh assertion.
 *
 * @param tokenEndpoint - the URL the request goes to: an assertion's `aud`
 */
export type ClientAuthentication = (tokenEndpoint: string) => Promise<Readonly<Record<string, string>>>;

/** Options of `getToken` / `getTokenResponse`. Compatible with `@azure/core-auth`'s `GetTokenOptions`. */
export interface GetTokenOptions {
  /** Stop waiting: the call rejects with `ERR_ABORTED`. A request shared with other callers goes on for them. */
  readonly abortSignal?: AbortSignal;
  /** Ignore the cached token and fetch a new one (e.g. after the resource server answered 401). Joins a request already in flight. */
  readonly forceRefresh?: boolean;
}

/** One client at one token endpoint. */
export class TokenClient {
  readonly #clientId: string;
  readonly #options: ResolvedOptions;
  readonly #authenticate: ClientAuthentication;
  readonly #events: EventSink;
  readonly #cache: TokenCache;
  #discovery: Promise<string> | undefined;

  constructor(clientId: string, options: ResolvedOptions, authenticate: ClientAuthentication, events: EventSink) {
    this.#clientId = clientId;
    this.#options = options;
    this.#authenticate = authenticate;
    this.#events = events;
    this.#cache = new TokenCache({ now: options.now, refreshRetryMs: options.refreshRetryMs, events });
  }

  /** See `ClientCertificateCredential.getToken`. The cache-hit path is synchronous up to the returned promise. */
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    // The cheap form of scopeKey(): validation happens on the slow path.
    const key =
      typeof scopes === 'string' ? scopes : Array.isArray(scopes) ? (scopes.length === 1 ? scopes[0] : scopes.join(' ')) : undefined;
    if (key !== undefined && options?.forceRefresh !== true && options?.abortSignal?.aborted !== true) {
      const hit = this.#cache.hit(key);
      if (hit !== undefined) {
        if (this.#events.active) this.#events.emit({ type: 'cache-hit', scope: key });
        return hit;
      }
    }
    return this.#lookup(scopes, options).then((entry) => entry.token);
  }

  /** See `ClientCertificateCredential.getTokenResponse`. */
  getTokenResponse(scopes: string | string[], options?: GetTokenOptions): Promise<TokenResponse> {
    return this.#lookup(scopes, options).then((entry) => entry.response);
  }

  /** The token endpoint, after discovery when configured with an issuer. */
  #tokenEndpoint(): Promise<string> {
    const { endpoint } = this.#options;
    if ('tokenEndpoint' in endpoint) return Promise.resolve(endpoint.tokenEndpoint);
    this.#discovery ??= withRetries(
      (_, remainingMs) => discoverAuthorizationServer(endpoint.issuer, this.#http(remainingMs)),
      this.#options.retry,
    ).then(
      (metadata) => metadata.token_endpoint,
      (error: unknown) => {
        this.#discovery = undefined;
        throw error;
      },
    );
    return this.#discovery;
  }

  /** Where requests go, for display. */
  describe(): Record<string, string> {
    const { endpoint } = this.#options;
    const where: Record<string, string> =
      'issuer' in endpoint ? { issuer: endpoint.issuer } : { tokenEndpoint: displayUrl(endpoint.tokenEndpoint) };
    return { clientId: this.#clientId, ...where };
  }

  async #lookup(scopes: unknown, options: GetTokenOptions | undefined): Promise<CacheEntry> {
    const key = scopeKey(scopes);
    const parameters = this.#scopeParameters(key);
    if (options?.abortSignal?.aborted) throw abortError();
    return abortable(
      this.#cache.lookup(key, () => this.#requestToken(key, parameters), options?.forceRefresh === true),
      options?.abortSignal,
    );
  }

  /** `scope` (v2, generic; omitted when empty) or `resource` (v1). */
  #scopeParameters(key: string): Record<string, string> {
    if (this.#options.endpointVersion === 'v2') return key === '' ? {} : { scope: key };
    if (key === '' || /\s/.test(key)) {
      throw new TokenRequestError('ERR_INVALID_OPTIONS', 'A v1 token request takes exactly one resource (or one ".../.default" scope).');
    }
    return { resource: scopeToResource(key) };
  }

  /** One token request, retried per the policy, each attempt with fresh client authentication. */
  async #requestToken(scope: string, parameters: Record<string, string>): Promise<TokenResponse> {
    const endpoint = await this.#tokenEndpoint();
    const shown = displayUrl(endpoint);
    const events = this.#events;
    const response = await withRetries(
      async (attempt, remainingMs) => {
        const authentication = await this.#authenticate(endpoint);
        const body = clientCredentialsGrantBody({ client_id: this.#clientId, ...parameters, ...authentication });
        // Entra ID logs this id and answers it back as `correlation_id` (MSAL sends it too).
        const requestId = randomUUID();
        events.emit({ type: 'request', endpoint: shown, scope, attempt, requestId });
        const requestedAt = this.#options.now();
        const started = performance.now();
        const answer = await postForm(endpoint, body, this.#http(remainingMs), {
          'client-request-id': requestId,
          'return-client-request-id': 'true',
        });
        const durationMs = Math.round(performance.now() - started);
        events.emit({ type: 'response', endpoint: shown, scope, attempt, status: answer.status, durationMs });
        // The credential this attempt sent is redacted from anything the server says back.
        const secrets = Object.entries(authentication).flatMap(([name, value]) => (name === 'client_assertion_type' ? [] : [value]));
        return usableOnArrival(processTokenResponse(answer, requestedAt, secrets), this.#options.now(), answer.status);
      },
      this.#options.retry,
      ({ attempt, delayMs, error }) =>
        events.emit({ type: 'retry', endpoint: shown, scope, attempt, delayMs, code: error.code, status: error.status }),
    );
    events.emit({
      type: 'token',
      endpoint: shown,
      scope,
      expiresOnTimestamp: response.expiresOnTimestamp,
      refreshAfterTimestamp: response.refreshAfterTimestamp,
    });
    return response;
  }

  #http(remainingMs: number): HttpOptions {
    return {
      fetch: this.#options.fetch,
      timeoutMs: Math.min(this.#options.timeoutMs, Math.max(1, Math.floor(remainingMs))),
      maxResponseBytes: this.#options.maxResponseBytes,
    };
  }
}

/**
 * The cache key of `scopes`: a string as given, an array joined with spaces
 * (RFC 6749 §3.3).
 *
 * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS` for anything but a string or an array of non-empty strings
 */
function scopeKey(scopes: unknown): string {
  if (typeof scopes === 'string') return scopes;
  if (Array.isArray(scopes) && scopes.every((s) => typeof s === 'string' && s !== '')) return scopes.join(' ');
  throw new TokenRequestError('ERR_INVALID_OPTIONS', 'scopes must be a string or an array of non-empty strings.');
}

/**
 * Refuse a token that is already within {@link EXPIRY_MARGIN_MS} of its
 * expiry when it arrives (`expires_in` at most the margin, or an answer slow
 * enough to eat the lifetime): it would be handed out unusable. Retryable
 * only when the lifetime sent was longer than the margin (time in transit
 * ate it, so a prompt answer may do).
 *
 * @throws {@link TokenRequestError} `ERR_INVALID_TOKEN_RESPONSE`
 */
function usableOnArrival(response: TokenResponse, arrivedAt: number, status: number): TokenResponse {
  const left = response.expiresOnTimestamp - EXPIRY_MARGIN_MS - arrivedAt;
  if (left > 0) return response;
  throw new TokenRequestError(
    'ERR_INVALID_TOKEN_RESPONSE',
    `The token expires within the ${EXPIRY_MARGIN_MS / 1000} s expiry margin on arrival ` +
      `(expires_in ${response.expiresIn} s, answer after ${Math.max(0, Math.round((arrivedAt - response.expiresOnTimestamp) / 1000 + response.expiresIn))} s): refused.`,
    { status, retryable: response.expiresIn * 1000 > EXPIRY_MARGIN_MS },
  );
}
