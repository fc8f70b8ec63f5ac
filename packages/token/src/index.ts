/**
 * `@x/token`: app-only access tokens for daemons that authenticate with an
 * X.509 certificate, never a client secret. The OAuth 2.0 client credentials
 * grant (RFC 6749 §4.4) with a signed JWT client assertion (RFC 7521,
 * RFC 7523), against Microsoft Entra ID (v1 and v2) or any RFC 6749 token
 * endpoint; cached, refreshed ahead of expiry, single-flight, retried.
 *
 * The flow, one module per step: credential source (`credentials`,
 * `rotation`) → assertion (`@x/assertion`) → token request (`endpoints`,
 * `discovery`, `retry`, `response`, all HTTP in `transport` (with `url-policy`, `dispatcher` for proxies and TLS, `abort`)) →
 * cache policy and level 1 (`cache`) → level 2, an optional shared store
 * (`store`, `store-lookup`) → use (`authorized-fetch`), with `events`,
 * `errors` and `redact` alongside. Admin consent: `@x/token/admin-consent`;
 * the redactor alone: `@x/token/redact`.
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
export { EnvironmentCredential, type EnvironmentCredentialOptions } from './environment.js';
export type { TokenCredentialOptions, ClientAuthenticationMethod, ProofOfPossession } from './options.js';
export type { DpopAlgorithm, DpopProofInput } from './binding/dpop.js';
export type { Connection } from './transport.js';
export { isPkcs11Uri, openPkcs11Key, type HardwareKey } from './pkcs11.js';
export type { GetTokenOptions } from './client.js';
export { EXPIRY_MARGIN_MS, type AccessToken, type CachedTokenResponse } from './cache.js';
export type { TokenResponse, TokenType } from './response.js';
export type { TokenStore, TokenStoreKey, TokenStoreRequest, TokenStoreEvent, TokenStoreEventType } from './store.js';
export { TokenRequestError, TokenErrorCode, isTokenRequestError, type TokenRequestErrorDetails } from './errors.js';
export { redact, sanitizeError } from './redact.js';
export { AzureAuthorityHosts, entraTokenEndpoint, scopeToResource, type EndpointVersion } from './endpoints.js';
export { discoverAuthorizationServer, type AuthorizationServerMetadata } from './discovery.js';
export { MAX_RETRY_AFTER_MS, type RetryPolicy } from './retry.js';
export { TOKEN_DIAGNOSTICS_CHANNEL, type TokenEvent, type TokenLogger } from './events.js';
export { createAuthorizedFetch, type AuthorizedFetchOptions, type RefreshableTokenSource } from './authorized-fetch.js';
