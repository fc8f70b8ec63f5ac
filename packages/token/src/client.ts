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
import { isFresh, isUsable, refreshAfterTimestamp, TokenCache, usableUntil, type AccessToken, type CacheEntry, type CachedTokenResponse, type TokenSource } from './cache.js';
import { discoverAuthorizationServer } from './discovery.js';
import { scopeToResource } from './endpoints.js';
import { TokenRequestError } from './errors.js';
import { redact, sanitizeError } from './redact.js';
import type { EventSink } from './events.js';
import type { ResolvedOptions } from './options.js';
import { abortable, abortError } from './abort.js';
import { createDispatcher, type TlsClientCertificate } from './dispatcher.js';
import { generateDpopKey, type DpopKey, type DpopProofInput } from './binding/dpop.js';
import { expectedTokenType, isBoundResponse } from './binding/token-type.js';
import { postForm, type Connection, type HttpOptions, type HttpResponse } from './transport.js';
import { displayUrl, urlProblem } from './url-policy.js';
import { parseJsonObject, processTokenResponse, type TokenResponse, type TokenType } from './response.js';
import { withRetries } from './retry.js';
import type { TokenStoreEvent } from './store.js';
import { storeLookup } from './store-lookup.js';

/**
 * The client authentication parameters of one token request (RFC 6749
 * §2.3, RFC 7521 §4.2), e.g. `client_assertion_type` and `client_assertion`.
 * Called once per HTTP attempt, so each attempt carries a fresh assertion.
 *
 * @param tokenEndpoint - the URL the request goes to: an assertion's `aud`
 */
export type ClientAuthentication = (tokenEndpoint: string) => Promise<Readonly<Record<string, string>>>;

/** What a token store needs to know about the key the client authenticates with now. */
export interface ClientKey {
  /** `x5t#S256` of the certificate; `undefined` for credentials without one. */
  readonly certificateThumbprint?: string;
  /** See `TokenStoreRequest.keyMaterial`. */
  readonly keyMaterial: () => Promise<Uint8Array | undefined>;
}

/** The key of a credential without a certificate: no thumbprint, no key material. */
const NO_CLIENT_KEY: ClientKey = Object.freeze({ keyMaterial: () => Promise.resolve(undefined) });

/**
 * Options of `getToken` / `getTokenResponse`. Compatible with `@azure/core-auth`'s `GetTokenOptions`
 * (what Azure SDK clients pass: `{ abortSignal, tracingOptions, enableCae: true }`, after a CAE challenge
 * `claims` too, after a tenant challenge `tenantId`); members not listed here (`tracingOptions`) are ignored.
 */
export interface GetTokenOptions {
  /**
   * Stop waiting: the call rejects with `ERR_ABORTED`, an error named `AbortError` (what
   * `@azure/core-rest-pipeline` checks). A request shared with other callers goes on for them.
   */
  readonly abortSignal?: AbortSignal;
  /** Ignore the cached token and fetch a new one (e.g. after the resource server answered 401). Joins a request already in flight. */
  readonly forceRefresh?: boolean;
  /**
   * A claims challenge: the JSON object a resource asked for in `WWW-Authenticate: Bearer …
   * error="insufficient_claims", claims="<base64>"`, base64-decoded (as `@azure/core-rest-pipeline` passes it).
   * Bypasses the cached token; sent as the `claims` parameter (merged with the client capability when
   * `enableCae`); the new token replaces the cached one. Callers with the same claims share one request.
   * Source: learn.microsoft.com `entra/identity-platform/claims-challenge`. Not a JSON object:
   * `ERR_INVALID_OPTIONS`.
   */
  readonly claims?: string;
  /**
   * Continuous Access Evaluation: declare the client capability `cp1` (`{"access_token":{"xms_cc":{"values":["cp1"]}}}`
   * in the `claims` parameter, as MSAL sends it) so the resource may hand out long-lived, revocable tokens and
   * send claims challenges. CAE tokens are cached apart from the others (cache partition `cae`).
   * Source: learn.microsoft.com `entra/identity-platform/app-resilience-continuous-access-evaluation`.
   */
  readonly enableCae?: boolean;
  /**
   * A token for another tenant (multi-tenant apps, a tenant challenge). Allowed when it is the configured tenant
   * or listed in the credential's `additionallyAllowedTenants` (`'*'`: any); otherwise `ERR_TENANT_NOT_ALLOWED`.
   * Handled by the credential, not by the client.
   */
  readonly tenantId?: string;
}

/** The cache partition of CAE tokens (see the partition contract of `TokenStoreKey.partition`). */
const CAE_PARTITION = 'cae';
/** The cache partition of certificate-bound (`proofOfPossession: 'mtls'`) tokens. */
const MTLS_PARTITION = 'mtls';
/** The client capability MSAL declares for CAE: `xms_cc` = `cp1`. */
const CLIENT_CAPABILITY = { xms_cc: { values: ['cp1'] } } as const;
/** The longest `claims` accepted, characters: a challenge is a few hundred. */
const MAX_CLAIMS_LENGTH = 16_384;

/** One client at one token endpoint. */
export class TokenClient {
  readonly #clientId: string;
  readonly #options: ResolvedOptions;
  readonly #authenticate: ClientAuthentication;
  readonly #events: EventSink;
  readonly #cache: TokenCache;
  readonly #clientKey: () => Promise<ClientKey>;
  /** The token endpoint found by discovery, until it is due for another look. */
  #discovered: { readonly tokenEndpoint: string; readonly until: number } | undefined;
  #discovery: Promise<string> | undefined;
  #connection: Promise<Connection> | undefined;
  /** The TLS client certificate `#connection` presents (compared by identity: a new object is a rotated certificate). */
  #connectionFor: TlsClientCertificate | undefined;
  readonly #tlsClient: (() => Promise<TlsClientCertificate>) | undefined;
  #dpopKey: Promise<DpopKey> | undefined;
  /** `jkt=<thumbprint>` once the DPoP key exists (the cache partition segment). */
  #jktSegment: string | undefined;
  /** The token endpoint's latest `DPoP-Nonce` (RFC 9449 §8). */
  #dpopNonce: string | undefined;

  /**
   * @param clientKey - the certificate in use, for a token store's key and key material
   * @param tlsClient - the certificate and key (PEM) for mutual TLS; required by `clientAuthentication`
   *   `tls_client_auth` / `self_signed_tls_client_auth` and `proofOfPossession: 'mtls'`
   */
  constructor(
    clientId: string,
    options: ResolvedOptions,
    authenticate: ClientAuthentication,
    events: EventSink,
    clientKey: () => Promise<ClientKey> = () => Promise.resolve(NO_CLIENT_KEY),
    tlsClient?: () => Promise<TlsClientCertificate>,
  ) {
    const { clientAuthentication, proofOfPossession } = options.binding;
    if (tlsClient === undefined && (clientAuthentication !== 'private_key_jwt' || proofOfPossession !== undefined)) {
      throw new TokenRequestError(
        'ERR_INVALID_OPTIONS',
        `${proofOfPossession === undefined ? `clientAuthentication '${clientAuthentication}'` : `proofOfPossession '${proofOfPossession}'`} needs a ClientCertificateCredential.`,
      );
    }
    this.#tlsClient = tlsClient;
    this.#clientId = clientId;
    this.#options = options;
    this.#authenticate = authenticate;
    this.#events = events;
    this.#clientKey = clientKey;
    this.#cache = new TokenCache({ now: options.now, refreshRetryMs: options.refreshRetryMs, events });
  }

  /** See `ClientCertificateCredential.getToken`. The cache-hit path is synchronous up to the returned promise. */
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken<TokenType>> {
    // The cheap form of scopeKey(): validation happens on the slow path.
    const key =
      typeof scopes === 'string' ? scopes : Array.isArray(scopes) ? (scopes.length === 1 ? scopes[0] : scopes.join(' ')) : undefined;
    if (key !== undefined && options?.forceRefresh !== true && !options?.claims && options?.abortSignal?.aborted !== true) {
      const partition = this.#partition(options?.enableCae === true);
      const hit = partition === null ? undefined : this.#cache.hit(partition === undefined ? key : `${key}\n${partition}`);
      if (hit !== undefined) {
        if (this.#events.active) this.#events.emit({ type: 'cache-hit', scope: key });
        return hit;
      }
    }
    return this.#lookup(scopes, options).then((entry) => entry.token);
  }

  /**
   * The cache partition (segments joined with ';': `cae`, `mtls`, `jkt=<thumbprint>`), `undefined` without one,
   * `null` while the DPoP key is still being made.
   */
  #partition(cae: boolean): string | undefined | null {
    const segments = cae ? [CAE_PARTITION] : [];
    // An RFC 8705 certificate-bound token is typed Bearer: apart from the unbound ones of the same client and certificate.
    if (this.#options.binding.proofOfPossession === 'mtls') segments.push(MTLS_PARTITION);
    if (this.#options.binding.proofOfPossession === 'dpop') {
      if (this.#jktSegment === undefined) return null;
      segments.push(this.#jktSegment);
    }
    return segments.length === 0 ? undefined : segments.join(';');
  }

  /** This client's ephemeral DPoP key (RFC 9449), made on first use. */
  dpopKey(): Promise<DpopKey> {
    this.#dpopKey ??= generateDpopKey(this.#options.binding.dpopAlgorithm).then((key) => {
      this.#jktSegment = `jkt=${key.jkt}`;
      return key;
    });
    return this.#dpopKey;
  }

  /**
   * A DPoP proof by this client's key for a resource call (RFC 9449 §7.1).
   *
   * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS` when the client does not use DPoP
   */
  createDpopProof(input: DpopProofInput): Promise<string> {
    if (this.#options.binding.proofOfPossession !== 'dpop') {
      return Promise.reject(new TokenRequestError('ERR_INVALID_OPTIONS', "This credential does not use proofOfPossession 'dpop'."));
    }
    return this.dpopKey().then((key) => key.createDpopProof(input));
  }

  /** Mutual TLS is on: TLS client authentication or certificate-bound tokens. */
  get #mutualTls(): boolean {
    return this.#tlsClient !== undefined && (this.#options.binding.clientAuthentication !== 'private_key_jwt' || this.#options.binding.proofOfPossession === 'mtls');
  }

  /** See `ClientCertificateCredential.getTokenResponse`. */
  getTokenResponse(scopes: string | string[], options?: GetTokenOptions): Promise<CachedTokenResponse> {
    return this.#lookup(scopes, options).then((entry) => entry.response);
  }

  /**
   * The token endpoint, after discovery when configured with an issuer. A
   * discovered endpoint is kept for {@link DISCOVERY_TTL_MS}; when looking
   * again fails, the known one goes on being used.
   */
  #tokenEndpoint(): Promise<string> {
    const { endpoint, now } = this.#options;
    if ('tokenEndpoint' in endpoint) return Promise.resolve(endpoint.tokenEndpoint);
    const known = this.#discovered;
    if (known !== undefined && now() < known.until) return Promise.resolve(known.tokenEndpoint);
    this.#discovery ??= withRetries(
      async (_, remainingMs) => discoverAuthorizationServer(endpoint.issuer, await this.#http(remainingMs)),
      this.#options.retry,
    )
      .then(
        (metadata) => {
          const tokenEndpoint = (this.#mutualTls ? mtlsAlias(metadata) : undefined) ?? metadata.token_endpoint;
          this.#discovered = { tokenEndpoint, until: now() + DISCOVERY_TTL_MS };
          return tokenEndpoint;
        },
        (error: unknown) => {
          if (known === undefined) throw error;
          this.#discovered = { tokenEndpoint: known.tokenEndpoint, until: now() + this.#options.refreshRetryMs };
          return known.tokenEndpoint;
        },
      )
      .finally(() => {
        this.#discovery = undefined;
      });
    return this.#discovery;
  }

  /** How this client's requests reach the network: its fetch and dispatcher, made on first use. */
  async connection(): Promise<Connection> {
    const tlsClient = this.#mutualTls ? this.#tlsClient : undefined;
    const client = tlsClient === undefined ? undefined : await tlsClient();
    // A rotated certificate gets a new dispatcher; the old one closes once its requests are done.
    if (this.#connection === undefined || this.#connectionFor !== client) {
      const previous = this.#connection;
      this.#connectionFor = client;
      this.#connection = createDispatcher(this.#options.network, client).then((dispatcher) => ({
        ...(this.#options.fetch === undefined ? {} : { fetch: this.#options.fetch }),
        ...(dispatcher === undefined ? {} : { dispatcher }),
      }));
      void previous?.then((old) => old.dispatcher?.close()).catch(() => {});
    }
    return this.#connection;
  }

  /** Where requests go, for display. */
  describe(): Record<string, string> {
    const { endpoint } = this.#options;
    const where: Record<string, string> =
      'issuer' in endpoint ? { issuer: endpoint.issuer } : { tokenEndpoint: displayUrl(endpoint.tokenEndpoint) };
    return { clientId: this.#clientId, ...where };
  }

  /** Every error leaves through the one sanitiser. */
  async #lookup(scopes: unknown, options: GetTokenOptions | undefined): Promise<CacheEntry> {
    try {
      return await this.#lookupRaw(scopes, options);
    } catch (error) {
      throw sanitizeError(error);
    }
  }

  async #lookupRaw(scopes: unknown, options: GetTokenOptions | undefined): Promise<CacheEntry> {
    const scope = scopeKey(scopes);
    const parameters = this.#scopeParameters(scope);
    if (this.#options.binding.proofOfPossession === 'dpop') await this.dpopKey();
    const cae = options?.enableCae === true;
    const partition = this.#partition(cae) ?? undefined;
    const challenge = options?.claims ? options.claims : undefined;
    const claims = claimsParameter(challenge, cae);
    if (options?.abortSignal?.aborted) throw abortError();
    const body = claims === undefined ? parameters : { ...parameters, claims };
    const request = () => this.#requestToken(scope, body);
    const store = this.#options.tokenStore;
    const source: TokenSource =
      store === undefined ? request : (forceRefresh) => this.#fromStore(scope, parameters, partition, request, forceRefresh);
    const key = partition === undefined ? scope : `${scope}\n${partition}`;
    const forceRefresh = options?.forceRefresh === true || challenge !== undefined;
    const flightKey = challenge === undefined ? key : `${key}\nclaims=${claims}`;
    return abortable(this.#cache.lookup(key, source, forceRefresh, flightKey), options?.abortSignal);
  }

  /** Level 2: the token store, told the cache's policy; the call is shared by every caller, so no caller's signal. */
  async #fromStore(
    scope: string,
    parameters: Record<string, string>,
    partition: string | undefined,
    request: () => Promise<TokenResponse>,
    forceRefresh: boolean,
  ): Promise<TokenResponse> {
    const [tokenEndpoint, clientKey] = await Promise.all([this.#tokenEndpoint(), this.#clientKey()]);
    const now = this.#options.now;
    const events = this.#events;
    return storeLookup(this.#options.tokenStore!, {
      key: Object.freeze({
        tokenEndpoint,
        clientId: this.#clientId,
        scopes: parameters.scope ?? parameters.resource ?? '',
        certificateThumbprint: clientKey.certificateThumbprint,
        tokenType: expectedTokenType(this.#options.binding),
        partition,
      }),
      isFresh: (response) => isFresh(response, now()),
      isUsable: (response) => isUsable(response, now()),
      fetch: request,
      keyMaterial: clientKey.keyMaterial,
      forceRefresh,
      emit: (event: TokenStoreEvent) => {
        if (!events.active) return;
        const { type, code, message, waitedMs } = event;
        events.emit({
          type,
          scope,
          ...(code === undefined ? {} : { code: String(code) }),
          ...(message === undefined ? {} : { message: redact(String(message)) }),
          ...(waitedMs === undefined ? {} : { waitedMs }),
        });
      },
    });
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
        const binding = this.#options.binding;
        // RFC 8705 §2 and Entra mTLS PoP: the TLS connection authenticates the client, no assertion.
        const tlsAuthenticated = binding.clientAuthentication !== 'private_key_jwt' || (binding.entra && binding.proofOfPossession === 'mtls');
        const entraPop: Record<string, string> = binding.entra && binding.proofOfPossession === 'mtls' ? { token_type: 'mtls_pop' } : {};
        let authentication = tlsAuthenticated ? {} : await this.#authenticate(endpoint);
        const body = () => clientCredentialsGrantBody({ client_id: this.#clientId, ...parameters, ...entraPop, ...authentication });
        // Entra ID logs this id and answers it back as `correlation_id` (MSAL sends it too).
        const requestId = randomUUID();
        events.emit({ type: 'request', endpoint: shown, scope, attempt, requestId });
        const requestedAt = this.#options.now();
        const started = performance.now();
        const http = await this.#http(remainingMs);
        const headers = { 'client-request-id': requestId, 'return-client-request-id': 'true' };
        let answer = await postForm(endpoint, body(), http, await this.#dpopHeader(endpoint, headers));
        // RFC 9449 §8: one retry with the nonce the server demands (and a fresh assertion: a jti is used once).
        if (binding.proofOfPossession === 'dpop' && this.#takeDpopNonce(answer)) {
          if (!tlsAuthenticated) authentication = await this.#authenticate(endpoint);
          answer = await postForm(endpoint, body(), http, await this.#dpopHeader(endpoint, headers));
          this.#takeDpopNonce(answer);
        }
        const durationMs = Math.round(performance.now() - started);
        events.emit({ type: 'response', endpoint: shown, scope, attempt, status: answer.status, durationMs });
        // The credential this attempt sent is redacted from anything the server says back.
        const secrets = Object.entries(authentication).flatMap(([name, value]) => (name === 'client_assertion_type' ? [] : [value]));
        const response = processTokenResponse(answer, requestedAt, secrets);
        return usableOnArrival(await checkTokenType(response, this.#options.binding, answer.status), this.#options.now(), answer.status);
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
      refreshAfterTimestamp: refreshAfterTimestamp(response),
    });
    return response;
  }

  /** `headers` plus a fresh `DPoP` proof for a POST to `endpoint` when the client uses DPoP. */
  async #dpopHeader(endpoint: string, headers: Record<string, string>): Promise<Record<string, string>> {
    if (this.#options.binding.proofOfPossession !== 'dpop') return headers;
    const key = await this.dpopKey();
    const nonce = this.#dpopNonce;
    return { ...headers, dpop: await key.createDpopProof({ htm: 'POST', htu: endpoint, ...(nonce === undefined ? {} : { nonce }) }) };
  }

  /** Keeps the answer's `DPoP-Nonce`; true when the answer is a `use_dpop_nonce` error with a new nonce to retry with. */
  #takeDpopNonce(answer: HttpResponse): boolean {
    const nonce = answer.headers.get('dpop-nonce');
    if (nonce === null || nonce === '' || nonce.length > 1024) return false;
    const fresh = nonce !== this.#dpopNonce;
    this.#dpopNonce = nonce;
    return fresh && answer.status === 400 && parseJsonObject(answer)?.error === 'use_dpop_nonce';
  }

  async #http(remainingMs: number): Promise<HttpOptions> {
    return {
      ...(await this.connection()),
      timeoutMs: Math.min(this.#options.timeoutMs, Math.max(1, Math.floor(remainingMs))),
      maxResponseBytes: this.#options.maxResponseBytes,
    };
  }
}

/** How long a discovered token endpoint is used before discovery runs again: 24 h. */
const DISCOVERY_TTL_MS = 24 * 60 * 60 * 1000;

/** RFC 8705 §5: the mTLS alias of the token endpoint, when the metadata has a usable one. */
function mtlsAlias(metadata: object): string | undefined {
  const aliases = (metadata as { mtls_endpoint_aliases?: unknown }).mtls_endpoint_aliases;
  const alias = typeof aliases === 'object' && aliases !== null ? (aliases as { token_endpoint?: unknown }).token_endpoint : undefined;
  return typeof alias === 'string' && urlProblem(alias) === undefined ? alias : undefined;
}

/**
 * The token type must be the one asked for: `DPoP` for `dpop`, `mtls_pop` for Entra mTLS PoP, a bound
 * `Bearer` (`cnf.x5t#S256` in a JWT) for RFC 8705 `mtls`, `Bearer` otherwise.
 *
 * @throws {@link TokenRequestError} `ERR_TOKEN_NOT_BOUND` (an unbound Bearer token for a bound request, unless
 *   `allowTokenTypeDowngrade`), `ERR_UNSUPPORTED_TOKEN_TYPE` (another type than asked for)
 */
async function checkTokenType(response: TokenResponse, binding: ResolvedOptions['binding'], status: number): Promise<TokenResponse> {
  const expected = expectedTokenType(binding);
  if (binding.proofOfPossession !== undefined && !(await isBoundResponse(response, binding))) {
    if (response.tokenType === 'Bearer') {
      if (binding.allowTokenTypeDowngrade) return response;
      throw new TokenRequestError(
        'ERR_TOKEN_NOT_BOUND',
        `proofOfPossession '${binding.proofOfPossession}' was asked for and the server answered an unbound Bearer token: refused (allowTokenTypeDowngrade accepts it).`,
        { status },
      );
    }
  }
  if (response.tokenType !== expected) {
    throw new TokenRequestError('ERR_UNSUPPORTED_TOKEN_TYPE', `The token response has token_type ${response.tokenType}; this credential asked for ${expected}.`, { status });
  }
  return response;
}

/** The form body of a client credentials token request (RFC 6749 §4.4.2): `grant_type`, then `parameters` in order. */
function clientCredentialsGrantBody(parameters: Readonly<Record<string, string>>): URLSearchParams {
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  for (const [name, value] of Object.entries(parameters)) body.set(name, value);
  return body;
}

/**
 * The `claims` parameter of a token request: the challenge as given, or with `enableCae` the challenge (or `{}`)
 * with the client capability added to its `access_token` member, as MSAL's `buildMergedClaims` does (MSAL also adds
 * optional `id_token` claims, which have no meaning for an app-only token).
 *
 * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS` when `challenge` is not a JSON object (the value is not shown)
 */
function claimsParameter(challenge: string | undefined, cae: boolean): string | undefined {
  if (challenge === undefined) return cae ? JSON.stringify({ access_token: CLIENT_CAPABILITY }) : undefined;
  let parsed: unknown;
  try {
    parsed = typeof challenge === 'string' && challenge.length <= MAX_CLAIMS_LENGTH ? JSON.parse(challenge) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!isJsonObject(parsed)) {
    throw new TokenRequestError(
      'ERR_INVALID_OPTIONS',
      `claims must be a JSON object of at most ${MAX_CLAIMS_LENGTH} characters: the base64-decoded claims challenge.`,
    );
  }
  if (!cae) return challenge;
  const accessToken = isJsonObject(parsed['access_token']) ? parsed['access_token'] : {};
  return JSON.stringify({ ...parsed, access_token: { ...accessToken, ...CLIENT_CAPABILITY } });
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
 * Refuse a token that is already within its expiry margin when it arrives
 * (an answer slow enough to eat three quarters of the lifetime): it would be
 * handed out unusable.
 *
 * @throws {@link TokenRequestError} `ERR_INVALID_TOKEN_RESPONSE`
 */
function usableOnArrival(response: TokenResponse, arrivedAt: number, status: number): TokenResponse {
  if (arrivedAt < usableUntil(response)) return response;
  throw new TokenRequestError(
    'ERR_INVALID_TOKEN_RESPONSE',
    'The token expires within its expiry margin on arrival ' +
      `(expires_in ${response.expiresIn} s, answer after ${Math.max(0, Math.round((arrivedAt - response.expiresOnTimestamp) / 1000 + response.expiresIn))} s): refused.`,
    // Time in transit ate the lifetime: a prompt answer may do.
    { status, retryable: true },
  );
}
