/**
 * EnvironmentCredential: `@azure/identity`'s `AZURE_*` variables, against the
 * Entra-shaped dev server on 127.0.0.1 (what reached it is checked there).
 */
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startEntraServer, type EntraServer } from '@x/devserver';
import { EnvironmentCredential, TokenRequestError } from '@x/token';
import { certificateDir, expectNoSecrets, type CertificateDir, type TestCertificate } from './support.js';

const TENANT = '44444444-4444-4444-8444-444444444444';
const OTHER_TENANT = '55555555-5555-4555-8555-555555555555';
const CLIENT = 'a1b2c3d4-0000-4000-8000-0000000000e0';
const SCOPE = 'https://storage.azure.com/.default';
const PASSPHRASE = 'env pässphrase';
const SECRET = 'env-migration-secret~value';

let dir: CertificateDir;
let cert: TestCertificate;
let server: EntraServer;

beforeAll(async () => {
  dir = await certificateDir();
  cert = await dir.make('env-app');
});

afterEach(() => server?.close());

afterAll(() => dir?.remove());

async function entra(): Promise<EntraServer> {
  server = await startEntraServer({
    tenantId: TENANT,
    additionalTenantIds: [OTHER_TENANT],
    clients: [{ clientId: CLIENT, certificates: [cert.certPem], secret: SECRET }],
  });
  return server;
}

const last = () => server.requests.at(-1)!;

describe('EnvironmentCredential', () => {
  test('AZURE_CLIENT_CERTIFICATE_PATH + _PASSWORD, _SEND_CERTIFICATE_CHAIN, AZURE_AUTHORITY_HOST, AZURE_ADDITIONALLY_ALLOWED_TENANTS', async () => {
    await entra();
    const pfx = await dir.pfx(cert, PASSPHRASE);
    const env = {
      AZURE_TENANT_ID: TENANT,
      AZURE_CLIENT_ID: CLIENT,
      AZURE_CLIENT_CERTIFICATE_PATH: pfx.path,
      AZURE_CLIENT_CERTIFICATE_PASSWORD: PASSPHRASE,
      AZURE_CLIENT_SEND_CERTIFICATE_CHAIN: 'True',
      AZURE_AUTHORITY_HOST: server.url,
      AZURE_ADDITIONALLY_ALLOWED_TENANTS: ` other.example ; ${OTHER_TENANT} `,
    };
    const credential = new EnvironmentCredential({ env });
    const home = await credential.getToken(SCOPE);
    expect(decodeJwt(home.token)).toMatchObject({ tid: TENANT, aud: 'https://storage.azure.com', azpacr: '2' });
    expect(last().assertion!.header['x5c']).toEqual([cert.certPem.replace(/-----[^-]+-----|\s/g, '')]);
    const other = await credential.getToken(SCOPE, { tenantId: OTHER_TENANT });
    expect(decodeJwt(other.token)['tid']).toBe(OTHER_TENANT);
    const refused = await credential.getToken(SCOPE, { tenantId: TENANT.replace('4444-8', '4444-9') }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'ERR_TENANT_NOT_ALLOWED' });
    expectNoSecrets([credential, JSON.stringify(credential), refused], [PASSPHRASE]);

    // Without the chain variable (or with anything but true/1): no x5c.
    for (const send of [undefined, 'yes', '0']) {
      const c = new EnvironmentCredential({ env: { ...env, AZURE_CLIENT_SEND_CERTIFICATE_CHAIN: send } });
      await c.getToken(SCOPE);
      expect(last().assertion!.header['x5c']).toBeUndefined();
    }
  });

  test('AZURE_CLIENT_CERTIFICATE_PASSWORD set but empty is the empty passphrase (a PFX exported with -passout pass:)', async () => {
    await entra();
    const pfx = await dir.pfx(cert, '');
    const env = { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_CERTIFICATE_PATH: pfx.path, AZURE_AUTHORITY_HOST: server.url };
    const token = await new EnvironmentCredential({ env: { ...env, AZURE_CLIENT_CERTIFICATE_PASSWORD: '' } }).getToken(SCOPE);
    expect(decodeJwt(token.token)['tid']).toBe(TENANT);
  });

  test('a PEM bundle without a passphrase; a secret only as the fallback', async () => {
    await entra();
    const base = { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_AUTHORITY_HOST: server.url };
    const both = new EnvironmentCredential({ env: { ...base, AZURE_CLIENT_CERTIFICATE_PATH: cert.bundlePath, AZURE_CLIENT_SECRET: SECRET } });
    expect(decodeJwt((await both.getToken(SCOPE)).token)['azpacr']).toBe('2');
    expect(both.toJSON()).toMatchObject({ credential: 'ClientCertificateCredential', clientId: CLIENT });
    const secret = new EnvironmentCredential({ env: { ...base, AZURE_CLIENT_SECRET: SECRET } });
    expect(decodeJwt((await secret.getToken(SCOPE)).token)['azpacr']).toBe('1');
    expectNoSecrets([secret, JSON.stringify(secret)], [SECRET]);
  });

  test('missing variables are named, values never shown; explicit options win', async () => {
    await entra();
    let error: unknown;
    try {
      new EnvironmentCredential({ env: { AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_CERTIFICATE_PASSWORD: PASSPHRASE } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TokenRequestError);
    expect(error).toMatchObject({ code: 'ERR_INVALID_OPTIONS' });
    expect((error as Error).message).toContain('AZURE_TENANT_ID');
    expect((error as Error).message).toContain('AZURE_CLIENT_CERTIFICATE_PATH');
    expect((error as Error).message).not.toContain(CLIENT);
    expect((error as Error).message).not.toContain(PASSPHRASE);

    const env = { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_CERTIFICATE_PATH: cert.bundlePath, AZURE_AUTHORITY_HOST: 'https://login.invalid' };
    const c = new EnvironmentCredential({ env, authorityHost: server.url });
    await c.getToken(SCOPE);
    expect(server.requests).toHaveLength(1);
  });
});
