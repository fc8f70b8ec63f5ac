/**
 * Entra ID admin consent (unrelated to the token request itself, so in its
 * own entry point, `@x/token/admin-consent`): the URL to send a tenant
 * administrator to, and the callback that ends it.
 *
 * Source: learn.microsoft.com `entra/identity-platform/v2-oauth2-client-creds-grant-flow`
 * (admin consent request and response).
 *
 * @module
 */
import { AzureAuthorityHosts, trimSlashes } from './endpoints.js';
import { TokenRequestError } from './errors.js';

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
  /** Default `https://login.microsoftonline.com` (`AzureAuthorityHosts.AzurePublicCloud`). */
  readonly authorityHost?: string;
}

/**
 * The URL to send a tenant administrator to, so they grant the application's
 * application permissions:
 * `{authorityHost}/{tenant}/adminconsent?client_id=…&state=…&redirect_uri=…`.
 */
export function adminConsentUrl(request: AdminConsentRequest): string {
  const query = new URLSearchParams({ client_id: request.clientId, state: request.state, redirect_uri: request.redirectUri });
  return `${trimSlashes(request.authorityHost ?? AzureAuthorityHosts.AzurePublicCloud)}/${encodeURIComponent(request.tenantId)}/adminconsent?${query}`;
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
