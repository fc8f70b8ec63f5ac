/**
 * Compile-time checks (`tsc --noEmit` fails if one breaks); nothing here runs.
 */
import type { AccessToken as AzureAccessToken, TokenCredential } from '@azure/core-auth';
import { ClientCertificateCredential, type AccessToken } from '@x/token';
import { ApiClient } from './api-client.js';

/** Every ClientCertificateCredential is a TokenCredential… */
export const asTokenCredential = (credential: ClientCertificateCredential): TokenCredential => credential;
/** …whose tokens are core-auth AccessTokens… */
export const asAzureAccessToken = (token: AccessToken): AzureAccessToken => token;
/** …so it goes wherever an Azure SDK client takes a credential. */
export const client = (credential: ClientCertificateCredential): ApiClient => new ApiClient('https://api.example.test', credential, { scopes: 'x/.default' });

// @ts-expect-error a secret string is not a TokenCredential: the client cannot be handed one
export const notACredential = (): ApiClient => new ApiClient('https://api.example.test', 'client-secret', { scopes: 'x/.default' });
