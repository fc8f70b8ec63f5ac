/**
 * Where to ask for a token: Microsoft Entra ID token endpoints (v1 and v2,
 * any cloud) and the v1 `resource` of a scope.
 *
 * Sources: learn.microsoft.com `entra/identity-platform/v2-oauth2-client-creds-grant-flow`
 * (token endpoint), `azuread-dev/v1-oauth2-client-creds-grant-flow` (v1
 * endpoint and `resource`), `entra/identity-platform/authentication-national-cloud`
 * (authority hosts).
 *
 * @module
 */
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

/** `url` without trailing slashes. */
export function trimSlashes(url: string): string {
  return url.replace(/\/+$/, '');
}
