/**
 * @x/token with the key in SoftHSM: tokens from the Entra-shaped devserver
 * and from oidc-provider 8, through ClientAssertionCredential with a callback
 * that signs each assertion in the token (what @x/token accepts today for an
 * external signer).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createClientAssertion, loadCertificate } from '@x/assertion';
import { startEntraServer, startOidcServer } from '@x/devserver';
import { ClientAssertionCredential } from '@x/token';
import { openPkcs11Signer, type Pkcs11Signer } from '../src/index.js';
import { makeToken, softhsmMissing, type TestToken } from './softhsm.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = 'a1b2c3d4-0000-4000-8000-00000000hsm1';

describe.skipIf(softhsmMissing !== undefined)(`@x/token with the key in SoftHSM 2${softhsmMissing ? ` (skipped: ${softhsmMissing})` : ''}`, () => {
  let token: TestToken;
  let rsa: Pkcs11Signer;
  let ec: Pkcs11Signer;

  beforeAll(async () => {
    token = await makeToken();
    [rsa, ec] = await Promise.all([openPkcs11Signer(token.uri(token.rsa)), openPkcs11Signer(token.uri(token.ec256))]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([rsa?.close(), ec?.close()]);
    await token?.remove();
  });

  const credential = (signer: Pkcs11Signer, options: ConstructorParameters<typeof ClientAssertionCredential>[3]) =>
    new ClientAssertionCredential(
      TENANT,
      CLIENT,
      ({ clientId, tokenEndpoint }) => createClientAssertion(signer, { clientId, audience: tokenEndpoint, kid: signer.certificate.kid }),
      options,
    );

  test('Entra-shaped devserver (v2): a token; the server verified a PS256 assertion against the registered certificate', async () => {
    const server = await startEntraServer({ tenantId: TENANT, clients: [{ clientId: CLIENT, certificates: [token.rsa.certPem] }] });
    try {
      const c = credential(rsa, { authorityHost: server.url });
      const response = await c.getTokenResponse('https://graph.microsoft.com/.default');
      expect(response).toMatchObject({ tokenType: 'Bearer' });
      expect(response.accessToken.length).toBeGreaterThan(20);
      const requests = server.requests.filter((r) => r.method === 'POST');
      expect(requests).toHaveLength(1);
      expect(requests[0]!.assertion!.header).toMatchObject({ alg: 'PS256', 'x5t#S256': loadCertificate(token.rsa.certPem).thumbprints['x5t#S256'] });
    } finally {
      await server.close();
    }
  });

  test.each(['rsa', 'ec'] as const)('oidc-provider 8 (private_key_jwt, JWKS of the certificate): a token with the %s key', async (which) => {
    const signer = which === 'rsa' ? rsa : ec;
    const server = await startOidcServer({
      clients: [{ clientId: CLIENT, jwks: { keys: [await signer.certificate.toJwk()] } }],
      scopes: ['api.read'],
    });
    try {
      const c = credential(signer, { tokenEndpoint: server.tokenEndpoint });
      const response = await c.getTokenResponse('api.read');
      expect(response).toMatchObject({ tokenType: 'Bearer', scope: 'api.read' });
      const request = server.requests.at(-1)!;
      expect(request.assertion!.header).toMatchObject({ alg: signer.certificate.defaultAlgorithm, kid: signer.certificate.kid });
    } finally {
      await server.close();
    }
  });
});
