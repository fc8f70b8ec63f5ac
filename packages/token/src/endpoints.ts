/**
 * Where to ask for a token: Microsoft Entra ID token endpoints (v1 and v2,
 * any cloud), authorization server metadata discovery (RFC 8414, OpenID
 * Connect Discovery 1.0), and the Entra admin-consent URL with its callback.
 *
 * Sources: learn.microsoft.com `entra/identity-platform/v2-oauth2-client-creds-grant-flow`
 * (token endpoint, admin consent request and response),
 * `azuread-dev/v1-oauth2-client-creds-grant-flow` (v1 endpoint and `resource`),
 * `entra/identity-platform/authentication-national-cloud` (authority hosts);
 * RFC 8414 §3; OpenID Connect Discovery 1.0 §4.
 *
 * @module
 */
import { TokenRequestError } from './errors.js';
import { getJson, insecureUrlProblem, type HttpOptions } from './request.js';
import { parseJsonObject } from './response.js';
import { isRetryableStatus } from './retry.js';

/** Entra ID authority hosts by cloud (the names `@azure/identity` uses). */
export const AzureAuthorityHosts = Object.freeze({
  AzurePublicCloud: 'https://login.microsoftonline.com',
  AzureChina: 'https://login.chinacloudapi.cn',
  AzureGovernment: 'https://login.microsoftonline.us',
});

/** The default authority host: Entra ID's public cloud. */
export const DEFAULT_AUTHORITY_HOST = AzureAuthorityHosts.AzurePublicCloud;

/** Entra ID endpoint generation: `v2` takes `scope`, `v1` takes `resource`. */
export type EndpointVersion = 'v1' | 'v2';

/**
 * The Entra ID token endpoint of a tenant:
 * `{authorityHost}/{tenant}/oauth2/v2.0/token` (v2) or
 * `{authorityHost}/{tenant}/oauth2/token` (v1).
 *
 * @param tenantId - tenant id (GUID) or verified domain
 * @param authorityHost - default {@link DEFAULT_AUTHORITY_HOST}; see {@link AzureAuthorityHosts}
 */
export function entraTokenEndpoint(
  tenantId: string,
  authorityHost: string = DEFAULT_AUTHORITY_HOST,
  version: EndpointVersion = 'v2',
): string {
  return `${trimSlashes(authorityHost)}/${encodeURIComponent(tenantId)}/oauth2/${version === 'v2' ? 'v2.0/' : ''}token`;
}

/**
 * The v1 `resource` for a v2-style scope, by the Azure CLI convention: drop a
 * trailing `/.default`, so `https://management.core.windows.net//.default`
 * becomes `https://management.core.windows.net/`. Anything else is taken as
 * the resource itself.
 */
export function scopeToResource(scope: string): string {
  return scope.endsWith('/.default') ? scope.slice(0, -'/.default'.length) : scope;
}

/** Authorization server metadata (RFC 8414 §2): the members this package uses, and the rest as sent. */
export interface AuthorizationServerMetadata {
  readonly issuer: string;
  readonly token_endpoint: string;
  readonly [member: string]: unknown;
}

/**
 * Fetch and validate an authorization server's metadata: OpenID Connect
 * Discovery (`{issuer}/.well-known/openid-configuration`) first, then, on a
 * 404, RFC 8414 (`{origin}/.well-known/oauth-authorization-server{path}`).
 * The document's `issuer` must equal `issuer` exactly (RFC 8414 §3.3), and
 * `token_endpoint` must be an `https:` URL (`http:` on loopback).
 *
 * @param issuer - the issuer identifier, e.g. `https://login.microsoftonline.com/{tenant}/v2.0`
 * @throws {@link TokenRequestError} `ERR_INVALID_METADATA`, `ERR_INVALID_OPTIONS` (an insecure issuer URL), and the transport codes
 */
export async function discoverAuthorizationServer(issuer: string, options: HttpOptions = {}): Promise<AuthorizationServerMetadata> {
  const url = parseSecureUrl(issuer, 'issuer');
  const path = url.pathname.replace(/\/+$/, '');
  let response = await getJson(`${url.origin}${path}/.well-known/openid-configuration`, options);
  if (response.status === 404) response = await getJson(`${url.origin}/.well-known/oauth-authorization-server${path}`, options);
  const invalid = (problem: string, status?: number) =>
    new TokenRequestError('ERR_INVALID_METADATA', `The metadata of issuer ${issuer} ${problem}.`, {
      status,
      retryable: status !== undefined && isRetryableStatus(status),
    });
  if (response.status !== 200) throw invalid(`could not be fetched (HTTP ${response.status})`, response.status);
  const metadata = parseJsonObject(response);
  if (metadata === undefined) throw invalid('is not a JSON object');
  if (metadata.issuer !== issuer) throw invalid(`names another issuer (${JSON.stringify(String(metadata.issuer).slice(0, 200))})`);
  const tokenEndpoint = metadata.token_endpoint;
  if (typeof tokenEndpoint !== 'string') throw invalid('has no token_endpoint');
  const problem = urlProblem(tokenEndpoint);
  if (problem !== undefined) throw invalid(`has a token_endpoint that ${problem}`);
  return metadata as AuthorizationServerMetadata;
}

/**
 * Parse a URL that will receive a client credential.
 *
 * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS` when it is not an absolute `https:` URL (or `http:` on loopback)
 */
export function parseSecureUrl(value: string, name: string): URL {
  const problem = urlProblem(value);
  if (problem !== undefined) throw new TokenRequestError('ERR_INVALID_OPTIONS', `${name} ${problem}.`);
  return new URL(value);
}

function urlProblem(value: string): string | undefined {
  if (!URL.canParse(value)) return 'is not an absolute URL';
  return insecureUrlProblem(new URL(value));
}

/** What {@link adminConsentUrl} needs. */
export interface AdminConsentRequest {
  /** The tenant whose administrator is asked (GUID or domain; `organizations` lets any admin sign in). */
  readonly tenantId: string;
  /** The application (client) id. */
  readonly clientId: string;
  /** A redirect URI registered on the application; the answer is sent there. */
  readonly redirectUri: string;
  /** An unguessable value, checked again by {@link parseAdminConsentCallback} (CSRF protection). */
  readonly state: string;
  /** Default {@link DEFAULT_AUTHORITY_HOST}. */
  readonly authorityHost?: string;
}

/**
 * The URL to send a tenant administrator to, so they grant the application's
 * application permissions:
 * `{authorityHost}/{tenant}/adminconsent?client_id=…&state=…&redirect_uri=…`.
 */
export function adminConsentUrl(request: AdminConsentRequest): string {
  const query = new URLSearchParams({ client_id: request.clientId, state: request.state, redirect_uri: request.redirectUri });
  return `${trimSlashes(request.authorityHost ?? DEFAULT_AUTHORITY_HOST)}/${encodeURIComponent(request.tenantId)}/adminconsent?${query}`;
}

/** The outcome of an admin-consent request, from its callback. */
export type AdminConsentResult =
  | { readonly granted: true; readonly tenant: string; readonly state: string }
  | { readonly granted: false; readonly error: string; readonly errorDescription: string | undefined };

/**
 * Read the redirect that ends an admin-consent request:
 * `?tenant=…&state=…&admin_consent=True` when granted,
 * `?error=…&error_description=…` when not.
 *
 * @param callbackUrl - the full URL the browser was redirected to
 * @param expectedState - the `state` given to {@link adminConsentUrl}
 * @throws {@link TokenRequestError} `ERR_STATE_MISMATCH` when a grant carries another (or no) `state`;
 *   `ERR_UNEXPECTED_RESPONSE` when the URL is neither answer
 */
export function parseAdminConsentCallback(callbackUrl: string | URL, expectedState: string): AdminConsentResult {
  const query = new URL(callbackUrl).searchParams;
  const state = query.get('state');
  const error = query.get('error');
  if (state !== null && state !== expectedState) {
    throw new TokenRequestError('ERR_STATE_MISMATCH', 'The admin-consent callback carries another state: ignore it (possible CSRF).');
  }
  if (error !== null) return { granted: false, error, errorDescription: query.get('error_description') ?? undefined };
  const tenant = query.get('tenant');
  if (query.get('admin_consent')?.toLowerCase() !== 'true' || tenant === null) {
    throw new TokenRequestError(
      'ERR_UNEXPECTED_RESPONSE',
      'The URL is not an admin-consent callback (no admin_consent=True with a tenant, and no error).',
    );
  }
  if (state === null) {
    throw new TokenRequestError('ERR_STATE_MISMATCH', 'The admin-consent callback carries no state: ignore it (possible CSRF).');
  }
  return { granted: true, tenant, state };
}

function trimSlashes(url: string): string {
  return url.replace(/\/+$/, '');
}
