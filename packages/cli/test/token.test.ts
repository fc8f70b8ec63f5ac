/**
 * `x-assertion token` end to end against real local servers on 127.0.0.1:
 * `startEntraServer` (v2, v1, AZURE_* variables, errors) and
 * `startOidcServer` (a generic server found by --issuer, registered with the
 * output of `x-assertion jwks`). The main paths run the built CLI as a
 * subprocess; the rest run `main()` in-process.
 */
import { readFileSync } from 'node:fs';
import { decodeJwt } from 'jose';
import { startEntraServer, startOidcServer, type EntraServer, type OidcServer } from '@x/devserver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SENTINEL, baseEnv, makeFixtures, requireBuilt, runCli, runMain, type Fixtures } from './helpers.js';

const TENANT = '7f0c1d2e-0000-4000-8000-00000000c11a';
const CLIENT = '0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b';
const GRAPH = 'https://graph.microsoft.com/.default';
const ARM_V1 = 'https://management.core.windows.net/';

let fx: Fixtures;
let entra: EntraServer;
const outputs: string[] = [];
const track = <T extends { stdout: string; stderr: string }>(r: T): T => (outputs.push(r.stdout, r.stderr), r);

beforeAll(async () => {
  requireBuilt();
  fx = makeFixtures();
  entra = await startEntraServer({ tenantId: TENANT, clients: [{ clientId: CLIENT, certificates: [readFileSync(fx.rsaCert, 'utf8')] }] });
});
afterAll(async () => {
  await entra?.close();
  fx?.cleanup();
});

describe('token against the Entra dev server (subprocess)', () => {
  it('v2: prints the access token alone', async () => {
    const r = track(await runCli(['token', fx.rsaBundle, '--tenant', TENANT, '--client-id', CLIENT, '--scope', GRAPH, '--authority-host', entra.url]));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${entra.issued.at(-1)!.token}\n`);
    const request = entra.requests.at(-1)!;
    expect(request.path).toBe(`/${TENANT}/oauth2/v2.0/token`);
    expect(request.form.scope).toBe(GRAPH);
    expect(request.assertion?.claims.aud).toBe(entra.tokenEndpoint('v2'));
    expect(decodeJwt(r.stdout.trim())).toMatchObject({ aud: 'https://graph.microsoft.com', azp: CLIENT, ver: '2.0' }) // v2 tokens name the client in azp (v1: appid);
  });

  it('v2 --json: the documented fields', async () => {
    const r = track(await runCli(['token', fx.rsaBundle, '--tenant', TENANT, '--client-id', CLIENT, '--scope', GRAPH, '--authority-host', entra.url, '--json']));
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j).sort()).toEqual(
      ['accessToken', 'tokenType', 'expiresIn', 'expiresOn', 'expiresOnTimestamp', 'refreshAfter', 'refreshAfterTimestamp', 'scope', 'resource', 'extExpiresIn', 'endpointVersion'].sort(),
    );
    expect(j).toMatchObject({ accessToken: entra.issued.at(-1)!.token, tokenType: 'Bearer', expiresIn: 3599, endpointVersion: 'v2', resource: null });
    expect(j.expiresOnTimestamp - Date.now()).toBeGreaterThan(3500_000);
    expect(j.expiresOn).toBe(new Date(j.expiresOnTimestamp).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    expect(j.refreshAfterTimestamp).toBeLessThan(j.expiresOnTimestamp);
  });

  it('--v1 --resource: the v1 endpoint with resource=, --json shows the resource', async () => {
    const r = track(
      await runCli(['token', fx.rsaBundle, '--tenant', TENANT, '--client-id', CLIENT, '--v1', '--resource', ARM_V1, '--authority-host', entra.url, '--json']),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const request = entra.requests.at(-1)!;
    expect(request.path).toBe(`/${TENANT}/oauth2/token`);
    expect(request.form.resource).toBe(ARM_V1);
    expect(request.form.scope).toBeUndefined();
    expect(request.assertion?.claims.aud).toBe(entra.tokenEndpoint('v1'));
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ endpointVersion: 'v1', resource: ARM_V1, expiresIn: 3599 });
    expect(decodeJwt(j.accessToken)).toMatchObject({ aud: ARM_V1, ver: '1.0' });
  });

  it('AZURE_* variables: tenant, client id, PFX path and password, authority host', async () => {
    const env = baseEnv({
      AZURE_TENANT_ID: TENANT,
      AZURE_CLIENT_ID: CLIENT,
      AZURE_CLIENT_CERTIFICATE_PATH: fx.rsaPfx,
      AZURE_CLIENT_CERTIFICATE_PASSWORD: SENTINEL,
      AZURE_AUTHORITY_HOST: entra.url,
    });
    const r = track(await runCli(['token', '--scope', GRAPH], { env }));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${entra.issued.at(-1)!.token}\n`);
    const v1 = track(await runCli(['token', '--v1', '--scope', 'https://management.core.windows.net//.default'], { env }));
    expect(v1.code).toBe(0);
    expect(entra.requests.at(-1)!.form.resource).toBe(ARM_V1);
  });

  it('a certificate the app does not have: ERR_OAUTH_ERROR with invalid_client / AADSTS700027, exit 1, one line', async () => {
    const r = track(await runCli(['token', fx.rsa2Bundle, '--tenant', TENANT, '--client-id', CLIENT, '--scope', GRAPH, '--authority-host', entra.url]));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^x-assertion: ERR_OAUTH_ERROR: [^\n]*401 invalid_client[^\n]*AADSTS700027[^\n]*\n$/);
  });
});

describe('token (in-process)', () => {
  it('--token-endpoint needs no tenant', async () => {
    const r = track(await runMain(['token', fx.rsaBundle, '--client-id', CLIENT, '--scope', GRAPH, '--token-endpoint', entra.tokenEndpoint('v2')]));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${entra.issued.at(-1)!.token}\n`);
  });

  it('options win over AZURE_* variables', async () => {
    const env = baseEnv({ AZURE_TENANT_ID: 'other-tenant', AZURE_CLIENT_ID: 'other-client', AZURE_AUTHORITY_HOST: 'https://login.invalid' });
    const r = track(await runMain(['token', fx.rsaBundle, '--tenant', TENANT, '--client-id', CLIENT, '--scope', GRAPH, '--authority-host', entra.url], { env }));
    expect(r.code).toBe(0);
  });

  it('an unknown client: ERR_OAUTH_ERROR unauthorized_client', async () => {
    const r = track(await runMain(['token', fx.rsaBundle, '--tenant', TENANT, '--client-id', 'no-such-app', '--scope', GRAPH, '--authority-host', entra.url]));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^x-assertion: ERR_OAUTH_ERROR: .*unauthorized_client/);
  });

  it('an encrypted PFX without a password and no TTY: ERR_PASSPHRASE_REQUIRED, no request sent', async () => {
    const before = entra.requests.length;
    const r = track(await runMain(['token', fx.rsaPfx, '--tenant', TENANT, '--client-id', CLIENT, '--scope', GRAPH, '--authority-host', entra.url]));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^x-assertion: ERR_PASSPHRASE_REQUIRED: /);
    expect(entra.requests.length).toBe(before);
  });

  it.each([
    [['token', 'x.pem', '--client-id', CLIENT, '--scope', GRAPH], /--tenant/],
    [['token', 'x.pem', '--tenant', TENANT, '--scope', GRAPH], /--client-id/],
    [['token', 'x.pem', '--tenant', TENANT, '--client-id', CLIENT], /--scope/],
    [['token', '--tenant', TENANT, '--client-id', CLIENT, '--scope', GRAPH], /AZURE_CLIENT_CERTIFICATE_PATH/],
    [['token', 'x.pem', '--tenant', TENANT, '--client-id', CLIENT, '--scope', GRAPH, '--authority-host', 'https://a', '--token-endpoint', 'https://b'], /only one of/],
    [['token', 'x.pem', '--tenant', TENANT, '--client-id', CLIENT, '--resource', ARM_V1], /--resource needs --v1/],
  ])('usage: %j exits 2', async (args, message) => {
    const r = await runMain(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')[1]).toMatch(/^usage: x-assertion token /);
  });
});

describe('token against oidc-provider via --issuer, registered with `jwks` output', () => {
  let oidc: OidcServer;
  const errors: string[] = [];
  beforeAll(async () => {
    const jwks = JSON.parse((await runMain(['jwks', fx.rsaCert, fx.ecCert])).stdout);
    oidc = await startOidcServer({ clients: [{ clientId: 'rotating-app', jwks }], onError: (e) => errors.push(`${e.message} ${e.error_detail ?? ''}`) });
  });
  afterAll(async () => {
    await oidc?.close();
  });

  it('both keys of the JWKS get tokens (old and new side by side)', async () => {
    for (const bundle of [fx.rsaBundle, fx.ecBundle]) {
      const r = track(await runMain(['token', bundle, '--client-id', 'rotating-app', '--scope', 'api.read', '--issuer', oidc.issuer, '--json']));
      expect(r.stderr, errors.join('; ')).toBe('');
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(decodeJwt(j.accessToken)).toMatchObject({ client_id: 'rotating-app', aud: oidc.resource });
    }
    expect(oidc.requests.map((q) => q.assertion?.header.kid)).toEqual([
      JSON.parse((await runMain(['thumbprint', fx.rsaCert, '--json'])).stdout).kid,
      JSON.parse((await runMain(['thumbprint', fx.ecCert, '--json'])).stdout).kid,
    ]);
  });
});

describe('secrets', () => {
  it('no passphrase in any output', () => {
    expect(outputs.length).toBeGreaterThan(10);
    for (const out of outputs) expect(out).not.toContain(SENTINEL);
  });
});
