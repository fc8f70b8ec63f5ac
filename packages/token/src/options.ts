/**
 * The options every credential takes, their defaults, and their validation
 * (zod; a failure is `ERR_INVALID_OPTIONS` naming the field, never its value).
 *
 * @module
 */
import type { z } from 'zod';
import { DEFAULT_AUTHORITY_HOST, entraTokenEndpoint, type EndpointVersion } from './endpoints.js';
import { checkProxyOption, type NetworkOptions } from './dispatcher.js';
import { TokenRequestError } from './errors.js';
import type { TokenLogger } from './events.js';
import { DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT_MS } from './transport.js';
import { parseSecureUrl } from './url-policy.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
import type { TokenStore } from './store.js';
import type { DpopAlgorithm } from './binding/dpop.js';

/**
 * Options shared by every credential. Where to send the request is chosen by
 * exactly one of: `tokenEndpoint`, `issuer`, or (the default) Entra ID's
 * `authorityHost` + the tenant id.
 */
export interface TokenCredentialOptions {
  /** Entra ID authority host (another cloud, see `AzureAuthorityHosts`). Default `https://login.microsoftonline.com`. */
  readonly authorityHost?: string;
  /**
   * Tenants besides the configured one that `getToken`'s `tenantId` may ask for (`'*'`: any), as in
   * `@azure/identity`. Each gets its own token endpoint and cache. Default none. Needs the Entra
   * `authorityHost` form (a fixed `tokenEndpoint` / `issuer` serves one tenant).
   */
  readonly additionallyAllowedTenants?: readonly string[];
  /**
   * Accepted for `@azure/identity` compatibility; a no-op: this package never runs Entra instance
   * discovery (the token endpoint is built from `authorityHost` and the tenant).
   */
  readonly disableInstanceDiscovery?: boolean;
  /**
   * `'v2'` (default): `{authorityHost}/{tenant}/oauth2/v2.0/token` with
   * `scope`. `'v1'`: `{authorityHost}/{tenant}/oauth2/token` with `resource`
   * (a `…/.default` scope becomes its resource). Also decides `scope` vs
   * `resource` with `tokenEndpoint` / `issuer`.
   */
  readonly endpointVersion?: EndpointVersion;
  /** Any RFC 6749 token endpoint, used as given (and as the assertion's `aud`). The tenant id is then ignored. */
  readonly tokenEndpoint?: string;
  /**
   * An issuer whose token endpoint is found by discovery (OpenID Connect
   * Discovery, RFC 8414) on first use. The tenant id is then ignored.
   */
  readonly issuer?: string;
  /** The `fetch` to use. Default: the global `fetch` (`undici`'s own when a proxy or `ca` is in effect). */
  readonly fetch?: typeof globalThis.fetch;
  /**
   * Forward proxy for every request (token endpoint, discovery,
   * `createAuthorizedFetch`): a URL such as `http://proxy.internal:3128`
   * (user info allowed, never shown), or `false` for none. Default: the
   * environment, `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (lower-case too),
   * read once when the first request is made.
   */
  readonly proxy?: string | false;
  /** Extra trust anchors (PEM) for the servers this credential talks to; `NODE_EXTRA_CA_CERTS` works too. */
  readonly ca?: string | readonly string[];
  /** Per-attempt timeout, ms, body included. Default 10,000. */
  readonly timeoutMs?: number;
  /** Largest response body accepted, bytes. Default 1,048,576. */
  readonly maxResponseBytes?: number;
  /** Retry policy; missing members take the defaults of `DEFAULT_RETRY_POLICY` (4 attempts, 0.5 s → 10 s, 60 s in total). */
  readonly retry?: Partial<RetryPolicy>;
  /** Receives every event (redacted). Events also go to the `x-token` diagnostics channel. */
  readonly logger?: TokenLogger;
  /** The clock, ms since the epoch. Default `Date.now`. For tests. */
  readonly now?: () => number;
  /** After a failed background refresh, wait this long (ms) before the next one. Default 30,000. */
  readonly refreshRetryMs?: number;
  /**
   * Level 2 of the token cache, shared between processes or credentials
   * (e.g. `@x/token-redis`): asked on a miss of the in-process cache or when
   * its token is due, never on a hit. Default: none (the in-process cache only).
   */
  readonly tokenStore?: TokenStore;
  /**
   * How the client proves itself at the token endpoint. `'private_key_jwt'` (default): a client assertion
   * (RFC 7523). `'tls_client_auth'` / `'self_signed_tls_client_auth'` (RFC 8705 §2): the certificate and key
   * authenticate the TLS connection and no `client_assertion` is sent; the endpoint is discovery's
   * `mtls_endpoint_aliases.token_endpoint` when there is one (§5). TLS variants need a certificate credential
   * whose key is in memory (not PKCS#11).
   */
  readonly clientAuthentication?: ClientAuthenticationMethod;
  /**
   * Sender-constrained tokens. `'mtls'`: certificate-bound (RFC 8705 §3, `cnf.x5t#S256`), requested and
   * presented over mTLS; against Entra (`authorityHost` form) the mTLS PoP flavour (`token_type=mtls_pop`).
   * `'dpop'`: RFC 9449 with an ephemeral key per credential. Default: none (bearer tokens).
   */
  readonly proofOfPossession?: ProofOfPossession;
  /** The DPoP key's algorithm. Default `'ES256'`. */
  readonly dpopAlgorithm?: DpopAlgorithm;
  /** Accept an unbound `Bearer` token when `proofOfPossession` was asked for (it is then used as Bearer). Default false. */
  readonly allowTokenTypeDowngrade?: boolean;
}

/** See `TokenCredentialOptions.clientAuthentication`. */
export type ClientAuthenticationMethod = 'private_key_jwt' | 'self_signed_tls_client_auth' | 'tls_client_auth';
/** See `TokenCredentialOptions.proofOfPossession`. */
export type ProofOfPossession = 'mtls' | 'dpop';

/** The sender-constraining choices of one credential, resolved. */
export interface BindingOptions {
  readonly clientAuthentication: ClientAuthenticationMethod;
  readonly proofOfPossession: ProofOfPossession | undefined;
  readonly dpopAlgorithm: DpopAlgorithm;
  readonly allowTokenTypeDowngrade: boolean;
  /** The endpoint is Entra's (`authorityHost` + tenant): `mtls` means mTLS PoP (`token_type=mtls_pop`). */
  readonly entra: boolean;
}

/** {@link TokenCredentialOptions} with defaults applied and the endpoint chosen. */
export interface ResolvedOptions {
  readonly endpoint: { readonly tokenEndpoint: string } | { readonly issuer: string };
  readonly endpointVersion: EndpointVersion;
  readonly fetch: typeof globalThis.fetch | undefined;
  readonly network: NetworkOptions;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly retry: RetryPolicy;
  readonly logger: TokenLogger | undefined;
  readonly now: () => number;
  readonly refreshRetryMs: number;
  readonly tokenStore: TokenStore | undefined;
  readonly binding: BindingOptions;
}

/** zod itself, as `lazySchema` hands it to a schema builder. */
export type Zod = typeof z;

/** The zod shape of {@link TokenCredentialOptions}; credentials extend it (built on first use: see `lazySchema`). */
export const tokenCredentialOptionsShape = (z: Zod) => {
  const fn = <T>(what: string) => z.custom<T>((v) => typeof v === 'function', { message: `must be ${what}` });
  const positiveMs = z.number().int().positive();
  return {
    authorityHost: z.string().optional(),
    additionallyAllowedTenants: z.array(z.string().min(1)).readonly().default([]),
    disableInstanceDiscovery: z.boolean().optional(),
    endpointVersion: z.enum(['v2', 'v1']).default('v2'),
    tokenEndpoint: z.string().optional(),
    issuer: z.string().optional(),
    fetch: fn<typeof globalThis.fetch>('a fetch function').optional(),
    proxy: z.union([z.string(), z.literal(false)]).optional(),
    ca: z.union([z.string(), z.array(z.string())]).optional(),
    timeoutMs: positiveMs.default(DEFAULT_TIMEOUT_MS),
    maxResponseBytes: positiveMs.default(DEFAULT_MAX_RESPONSE_BYTES),
    retry: z
      .strictObject({
        maxAttempts: z.number().int().min(1).max(10).optional(),
        initialDelayMs: z.number().int().min(0).optional(),
        maxDelayMs: z.number().int().min(0).optional(),
        maxElapsedMs: positiveMs.optional(),
      })
      .default({}),
    logger: fn<TokenLogger>('a function').optional(),
    now: fn<() => number>('a function returning milliseconds').optional(),
    refreshRetryMs: positiveMs.default(30_000),
    tokenStore: z
      .custom<TokenStore>((v) => typeof (v as { lookup?: unknown } | null)?.lookup === 'function', {
        message: 'must be a TokenStore (an object with a lookup function)',
      })
      .optional(),
    clientAuthentication: z.enum(['private_key_jwt', 'self_signed_tls_client_auth', 'tls_client_auth']).default('private_key_jwt'),
    proofOfPossession: z.enum(['mtls', 'dpop']).optional(),
    dpopAlgorithm: z.enum(['ES256', 'EdDSA', 'PS256']).default('ES256'),
    allowTokenTypeDowngrade: z.boolean().default(false),
  };
};

/** Tenant names that cannot issue app-only tokens (Entra ID requires a tenant for client credentials). */
const MULTI_TENANT = new Set(['common', 'organizations', 'consumers']);

/**
 * Validate `value` with `schema` (from `lazySchema`).
 *
 * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS` naming each bad field and the expectation, never the value
 */
export function parseOptions<S extends z.ZodType>(schema: () => S, value: unknown, what: string): z.output<S> {
  const result = schema().safeParse(value ?? {}, { errorMap: withoutValues });
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new TokenRequestError('ERR_INVALID_OPTIONS', `Invalid ${what}: ${problems}.`);
}

/**
 * Check the tenant and client ids, choose the endpoint and apply defaults.
 *
 * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS`
 */
export function resolveOptions(
  tenantId: unknown,
  clientId: unknown,
  options: z.output<z.ZodObject<ReturnType<typeof tokenCredentialOptionsShape>>>,
): ResolvedOptions {
  const invalid = (message: string) => new TokenRequestError('ERR_INVALID_OPTIONS', message);
  if (typeof clientId !== 'string' || clientId === '') throw invalid('clientId must be a non-empty string.');
  const { authorityHost, tokenEndpoint, issuer } = options;
  if ([authorityHost, tokenEndpoint, issuer].filter((o) => o !== undefined).length > 1) {
    throw invalid('Give at most one of authorityHost, tokenEndpoint and issuer.');
  }
  checkProxyOption(options.proxy);
  let endpoint: ResolvedOptions['endpoint'];
  if (tokenEndpoint !== undefined) endpoint = { tokenEndpoint: parseSecureUrl(tokenEndpoint, 'tokenEndpoint').href };
  else if (issuer !== undefined) {
    parseSecureUrl(issuer, 'issuer');
    endpoint = { issuer };
  } else {
    if (typeof tenantId !== 'string' || !/^[A-Za-z0-9.-]+$/.test(tenantId)) {
      throw invalid('tenantId must be a tenant id (GUID) or domain name (letters, digits, "." and "-").');
    }
    if (MULTI_TENANT.has(tenantId.toLowerCase())) {
      throw invalid(`tenantId "${tenantId}" cannot be used for app-only tokens: give the tenant's id or domain.`);
    }
    const host = parseSecureUrl(authorityHost ?? DEFAULT_AUTHORITY_HOST, 'authorityHost');
    endpoint = { tokenEndpoint: entraTokenEndpoint(tenantId, host.href, options.endpointVersion) };
  }
  return {
    endpoint,
    endpointVersion: options.endpointVersion,
    fetch: options.fetch,
    network: Object.freeze({
      ...(options.proxy === undefined ? {} : { proxy: options.proxy }),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    }),
    timeoutMs: options.timeoutMs,
    maxResponseBytes: options.maxResponseBytes,
    retry: Object.freeze({
      maxAttempts: options.retry.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts,
      initialDelayMs: options.retry.initialDelayMs ?? DEFAULT_RETRY_POLICY.initialDelayMs,
      maxDelayMs: options.retry.maxDelayMs ?? DEFAULT_RETRY_POLICY.maxDelayMs,
      maxElapsedMs: options.retry.maxElapsedMs ?? DEFAULT_RETRY_POLICY.maxElapsedMs,
    }),
    logger: options.logger,
    now: options.now ?? Date.now,
    refreshRetryMs: options.refreshRetryMs,
    tokenStore: options.tokenStore,
    binding: Object.freeze({
      clientAuthentication: options.clientAuthentication,
      proofOfPossession: options.proofOfPossession,
      dpopAlgorithm: options.dpopAlgorithm,
      allowTokenTypeDowngrade: options.allowTokenTypeDowngrade,
      entra: tokenEndpoint === undefined && issuer === undefined,
    }),
  };
}

/** zod's messages, except the one that quotes the value received (an enum mismatch). */
const withoutValues: z.ZodErrorMap = (issue, ctx) =>
  issue.code === 'invalid_enum_value' ? { message: `expected one of ${issue.options.join(', ')}` } : { message: ctx.defaultError };
