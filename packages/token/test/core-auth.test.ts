/**
 * The credentials are `@azure/core-auth` `TokenCredential`s: checked by the
 * compiler (`tsc --noEmit` on this file, below) and at run time with
 * `isTokenCredential`.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { isTokenCredential, type AccessToken as AzureAccessToken, type TokenCredential } from '@azure/core-auth';
import { expect, expectTypeOf, test } from 'vitest';
import { ClientAssertionCredential, ClientCertificateCredential, ClientSecretCredential, type AccessToken } from '../src/index.js';

const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

// Compile-time: assignable to TokenCredential (this file is type-checked by the test below).
const credentials: TokenCredential[] = [
  new ClientCertificateCredential('tenant', 'client', pem),
  new ClientAssertionCredential('tenant', 'client', async () => 'assertion'),
  new ClientSecretCredential('tenant', 'client', 'secret'),
];
const token: AzureAccessToken = {} as AccessToken;

test('isTokenCredential accepts every credential', () => {
  expect(credentials.every(isTokenCredential)).toBe(true);
  expectTypeOf<AccessToken>().toExtend<AzureAccessToken>();
  expect(token).toBeDefined();
});

test('tsc --noEmit: this file compiles against @azure/core-auth', async () => {
  const tsc = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url));
  const project = fileURLToPath(new URL('./tsconfig.json', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [tsc, '--noEmit', '-p', project]).catch((e: { stdout: string }) => {
    throw new Error(`tsc failed:\n${e.stdout}`);
  });
  expect(stdout).toBe('');
}, 60_000);
