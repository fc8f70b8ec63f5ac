/**
 * Type tests: the credentials are `@azure/core-auth` `TokenCredential`s, and
 * the public types say what they promise. Checked by the compiler (`tsc
 * --noEmit` on this file, below: `expectTypeOf` and `@ts-expect-error` lines
 * that must not compile) and at run time with `isTokenCredential`.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  isTokenCredential,
  type AccessToken as AzureAccessToken,
  type GetTokenOptions as AzureGetTokenOptions,
  type TokenCredential,
} from '@azure/core-auth';
import { expect, expectTypeOf, test } from 'vitest';
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  EnvironmentCredential,
  type AccessToken,
  type ClientCertificate,
  type GetTokenOptions,
  type CachedTokenResponse,
  type TokenCredentialOptions,
  type TokenResponse,
  type TokenStore,
  type TokenStoreRequest,
} from '../src/index.js';

const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

// Compile-time: assignable to TokenCredential (this file is type-checked by the test below).
const credentials: TokenCredential[] = [
  new ClientCertificateCredential('tenant', 'client', pem),
  new ClientAssertionCredential('tenant', 'client', async () => 'assertion'),
  new ClientSecretCredential('tenant', 'client', 'secret'),
];

// @azure/identity's drop-in shapes: EnvironmentCredential is a TokenCredential, core-auth's GetTokenOptions members
// tenantId, claims and enableCae are ours, and its certificate forms with certificatePassword compile.
const fromEnvironment = (c: EnvironmentCredential): TokenCredential => c;
const fromAzureOptions = ({ tenantId, claims, enableCae }: AzureGetTokenOptions): GetTokenOptions => ({ tenantId, claims, enableCae });
const identityShapes: ClientCertificate[] = [
  { certificatePath: '/etc/app/cert.pfx', certificatePassword: '' },
  { certificate: pem, certificatePassword: 'passphrase' },
];

// Must not compile (tsc fails on an unused @ts-expect-error, so each line is checked both ways):
// @ts-expect-error only Bearer, DPoP and mtls_pop tokens are handed out
const pop: AccessToken['tokenType'] = 'pop';
// @ts-expect-error a credential with bound tokens is not a bearer TokenCredential
const dpop: TokenCredential = new ClientCertificateCredential('tenant', 'client', pem, { proofOfPossession: 'dpop' });
// @ts-expect-error a TokenStore needs lookup()
const noLookup: TokenStore = { close: async () => {} };
// @ts-expect-error refreshAfterTimestamp is the cache's policy, not part of a stored TokenResponse
const stored: TokenResponse['refreshAfterTimestamp'] = 0;

test('every credential is an Azure TokenCredential, at run time and in its types', () => {
  expect(credentials.every(isTokenCredential)).toBe(true);
  expectTypeOf<AccessToken<'Bearer'>>().toExtend<AzureAccessToken>();
  expectTypeOf<ClientCertificateCredential['getToken']>().toExtend<TokenCredential['getToken']>();
  expectTypeOf<ClientCertificateCredential['getToken']>().returns.resolves.toEqualTypeOf<AccessToken<'Bearer'>>();
  expectTypeOf<ClientCertificateCredential['getTokenResponse']>().returns.resolves.toEqualTypeOf<CachedTokenResponse>();
  expectTypeOf<CachedTokenResponse>().toExtend<TokenResponse>();
  expectTypeOf<TokenCredentialOptions['tokenStore']>().toEqualTypeOf<TokenStore | undefined>();
  expectTypeOf<TokenStore['lookup']>().parameter(0).toEqualTypeOf<TokenStoreRequest>();
  expect([pop, dpop, noLookup, stored, fromEnvironment, fromAzureOptions, identityShapes]).toHaveLength(7);
});

test('tsc --noEmit: this file compiles against @azure/core-auth', async () => {
  const tsc = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url));
  const project = fileURLToPath(new URL('./tsconfig.json', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [tsc, '--noEmit', '-p', project]).catch((e: { stdout: string }) => {
    throw new Error(`tsc failed:\n${e.stdout}`);
  });
  expect(stdout).toBe('');
}, 60_000);
