/**
 * A `pkcs11:` URI wherever a certificate file is accepted: @x/token's
 * ClientCertificateCredential (a string, `{ certificatePath }`) and the CLI
 * (`x-assertion thumbprint|sign|jwks|token 'pkcs11:…'`, AZURE_CLIENT_CERTIFICATE_PATH),
 * with the key in SoftHSM; @x/pkcs11 is loaded on demand.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inspect, promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { importX509, jwtVerify } from 'jose';
import { startEntraServer, type EntraServer } from '@x/devserver';
import { ClientCertificateCredential } from '@x/token';
import { makeToken, PIN, softhsmMissing, type TestToken } from './softhsm.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../cli/bin/x-assertion.js', import.meta.url));
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = 'a1b2c3d4-0000-4000-8000-00000000hsm2';
const SCOPE = 'https://graph.microsoft.com/.default';

describe.skipIf(softhsmMissing !== undefined)(`pkcs11: URIs in @x/token and the CLI${softhsmMissing ? ` (skipped: ${softhsmMissing})` : ''}`, () => {
  let token: TestToken;
  let server: EntraServer;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    token = await makeToken();
    server = await startEntraServer({ tenantId: TENANT, clients: [{ clientId: CLIENT, certificates: [token.rsa.certPem] }] });
    env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AZURE_')));
    env.SOFTHSM2_CONF = token.conf;
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await token?.remove();
  });

  test.each([
    ['a string', () => token.uri(token.rsa, { pinValue: PIN })],
    ['{ certificatePath }', () => ({ certificatePath: token.uri(token.rsa) })],
  ])('ClientCertificateCredential with %s', async (_, certificate) => {
    const c = new ClientCertificateCredential(TENANT, CLIENT, certificate(), { authorityHost: server.url });
    const response = await c.getTokenResponse(SCOPE);
    expect(response.tokenType).toBe('Bearer');
    const shown = `${JSON.stringify(c)}${inspect(c, { showHidden: true, depth: 9 })}`;
    expect(JSON.stringify(c)).toContain('token=daemon');
    expect(shown).not.toContain(PIN);
  });

  test('a pkcs11: URI with keyPath or passphrase is refused', () => {
    expect(() => new ClientCertificateCredential(TENANT, CLIENT, { certificatePath: token.uri(token.rsa), keyPath: '/k.pem' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTIONS' }),
    );
  });

  test('x-assertion thumbprint, jwks, sign and token with a pkcs11: URI', async () => {
    const uri = token.uri(token.rsa);
    const thumbprint = await run(process.execPath, [CLI, 'thumbprint', uri, '--json'], { env });
    expect(JSON.parse(thumbprint.stdout)).toMatchObject({ sha256: token.rsa.opensslSha256, sha1: token.rsa.opensslSha1 });
    const jwks = await run(process.execPath, [CLI, 'jwks', uri], { env });
    expect(JSON.parse(jwks.stdout).keys).toHaveLength(1);
    const audience = server.tokenEndpoint('v2');
    const signed = await run(process.execPath, [CLI, 'sign', uri, '--client-id', CLIENT, '--audience', audience], { env });
    await jwtVerify(signed.stdout.trim(), await importX509(token.rsa.certPem, 'PS256'), { audience, issuer: CLIENT });
    const got = await run(process.execPath, [CLI, 'token', '--tenant', TENANT, '--client-id', CLIENT, '--scope', SCOPE, '--authority-host', server.url], {
      env: { ...env, AZURE_CLIENT_CERTIFICATE_PATH: uri },
    });
    expect(got.stdout.trim().split('.')).toHaveLength(3);
  }, 120_000);
});
