/**
 * `@x/token`: app-only access tokens for daemons that authenticate with an
 * X.509 certificate, never a client secret. The OAuth 2.0 client credentials
 * grant (RFC 6749 §4.4) with a signed JWT client assertion (RFC 7521,
 * RFC 7523), against Microsoft Entra ID (v1 and v2) or any RFC 6749 token
 * endpoint; cached, refreshed ahead of expiry, single-flight, retried.
 *
 * The flow, one module per step: credential source (`credentials`,
 * `rotation`) → assertion (`@x/assertion`) → token request (`endpoints`,
 * `request`, `retry`, `response`) → cache (`cache`) → use (`authorized-fetch`),
 * with `events` and `errors` alongside.
 *
 * @packageDocumentation
 */
export {
  ClientCertificateCredential,
  ClientAssertionCredential,
  ClientSecretCredential,
  ClientCredentialsGrantCredential,
  type ClientCertificate,
  type ClientCertificateCredentialOptions,
  type AssertionContext,
} from './credentials.js';
export type { TokenCredentialOptions } from './options.js';
export { isPkcs11Uri, openPkcs11Key, type HardwareKey } from './pkcs11.js';
export type { GetTokenOptions } from './client.js';
export { EXPIRY_MARGIN_MS, type AccessToken, type CachedTokenResponse } from './cache.js';
export { processTokenResponse, type TokenResponse } from './response.js';
export type {
  TokenStore,
  TokenStoreKey,
  TokenStoreRequest,
  TokenStoreEvent,
  TokenStoreEventType,
} from './store.js';
export { TokenRequestError, TokenErrorCode, isTokenRequestError, type TokenRequestErrorDetails } from './errors.js';
export {
  AzureAuthorityHosts,
  DEFAULT_AUTHORITY_HOST,
  entraTokenEndpoint,
  scopeToResource,
  discoverAuthorizationServer,
  adminConsentUrl,
  parseAdminConsentCallback,
  type EndpointVersion,
  type AuthorizationServerMetadata,
  type AdminConsentRequest,
  type AdminConsentResult,
} from './endpoints.js';
export {
  clientCredentialsGrantBody,
  postForm,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_MAX_RESPONSE_BYTES,
  type HttpOptions,
  type HttpResponse,
} from './request.js';
export { DEFAULT_RETRY_POLICY, isRetryableStatus, parseRetryAfter, backoffDelay, type RetryPolicy } from './retry.js';
export { TOKEN_DIAGNOSTICS_CHANNEL, type TokenEvent, type TokenLogger } from './events.js';
export { createAuthorizedFetch, type AuthorizedFetchOptions, type RefreshableTokenSource } from './authorized-fetch.js';
