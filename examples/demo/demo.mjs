#!/usr/bin/env node
// The main job, end to end and all on 127.0.0.1: a throwaway certificate in a
// passphrase-protected PFX, a real authorization server (oidc-provider, or with
// --entra an endpoint that behaves as Microsoft Entra ID v2), a token obtained
// exactly as a daemon would, a second one from the cache, and a protected API
// that accepts it. Nothing is mocked. Usage: node demo.mjs [--entra] [--json]
// node demo.mjs --mtls | --dpop: a sender-constrained token instead (bound.mjs).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadCredentialFile } from '@x/assertion';
import { startEntraServer, startOidcServer, startResourceServer } from '@x/devserver';
import { makeSelfSignedPfx } from '@x/examples-shared';
import { ClientCertificateCredential } from '@x/token';

const { values: flags } = parseArgs({
  options: {
    entra: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    mtls: { type: 'boolean', default: false },
    dpop: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (flags.help) {
  console.log('usage: pnpm demo [--entra] [--json] | pnpm demo --mtls | pnpm demo --dpop');
  process.exit(0);
}
if (flags.mtls || flags.dpop) {
  const { runBoundDemo } = await import('./bound.mjs');
  try {
    await runBoundDemo(flags.mtls ? 'mtls' : 'dpop', (line) => console.log(line));
  } catch (error) {
    console.error(`demo failed: ${error?.code ?? error?.name}: ${error?.message}`);
    process.exitCode = 1;
  }
  process.exit();
}

const CLIENT_ID = 'demo-daemon';
const TENANT_ID = 'contoso-demo';
const API = 'https://api.example.test';
const report = {};
const closers = [];
const dir = await mkdtemp(join(tmpdir(), 'x-demo-'));
const say = (line = '') => flags.json || console.log(line);

try {
  // 1. A throwaway certificate, written as a passphrase-protected PFX.
  const passphrase = randomBytes(18).toString('base64url'); // never printed
  const made = makeSelfSignedPfx({ commonName: CLIENT_ID, passphrase });
  const pfxPath = join(dir, `${CLIENT_ID}.pfx`);
  await writeFile(pfxPath, made.pfx, { mode: 0o600 });

  // 2. Load it as a daemon would, and compute what the server must know (the JWKS, as `x-assertion jwks` prints it).
  const certificate = await loadCredentialFile(pfxPath, { passphrase });
  const jwk = await certificate.toJwk();
  report.certificate = {
    file: `${CLIENT_ID}.pfx (${made.pfx.length} bytes)`,
    encoding: made.encoding,
    subject: certificate.subject,
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
    key: `${certificate.keyType} ${certificate.keySize}`,
    thumbprints: certificate.thumbprints,
  };

  // 3. A real authorization server on loopback, with the client registered.
  let server;
  let credentialOptions;
  let scope;
  let resourceCheck;
  if (flags.entra) {
    server = await startEntraServer({ tenantId: TENANT_ID, clients: [{ clientId: CLIENT_ID, certificates: [certificate.leaf] }] });
    credentialOptions = { authorityHost: server.url }; // → {authorityHost}/{tenant}/oauth2/v2.0/token
    scope = `${API}/.default`;
    resourceCheck = { issuer: server.issuer('v2'), jwksUri: server.jwksUri, audience: API };
    report.server = { kind: 'Entra ID v2 (local, documented behaviour)', tokenEndpoint: server.tokenEndpoint('v2') };
  } else {
    server = await startOidcServer({ clients: [{ clientId: CLIENT_ID, jwks: { keys: [jwk] } }], resource: API, scopes: ['api.read'] });
    credentialOptions = { issuer: server.issuer }; // token endpoint found by discovery
    scope = 'api.read';
    resourceCheck = { issuer: server.issuer, jwksUri: server.jwksUri, audience: API };
    report.server = { kind: 'oidc-provider 8 (private_key_jwt, client_credentials)', issuer: server.issuer, tokenEndpoint: server.tokenEndpoint };
  }
  closers.push(() => server.close());

  // 4. A token, exactly as a daemon gets one; then the same call again, answered from the cache.
  const daemon = new ClientCertificateCredential(TENANT_ID, CLIENT_ID, { certificatePath: pfxPath, passphrase }, credentialOptions);
  let t = performance.now();
  const token = await daemon.getToken(scope);
  const firstMs = performance.now() - t;
  const requestsAfterFirst = server.requests.length;
  t = performance.now();
  const again = await daemon.getToken(scope);
  const hitUs = (performance.now() - t) * 1000;

  const sent = server.requests[0];
  report.request = { fields: Object.keys(sent.form), ...pick(sent.form, ['grant_type', 'client_id', 'client_assertion_type', 'scope']) };
  report.assertion = { header: sent.assertion?.header, claims: sent.assertion?.claims, signature: '(elided)' };
  report.token = {
    tokenType: token.tokenType,
    length: token.token.length,
    expiresOn: new Date(token.expiresOnTimestamp).toISOString(),
    refreshAfter: new Date(token.refreshAfterTimestamp).toISOString(),
    firstCallMs: round(firstMs, 1),
  };
  report.cache = {
    hit: again === token,
    secondCallMicroseconds: round(hitUs, 1),
    tokenRequestsSent: server.requests.length,
    tokenRequestsAfterFirstCall: requestsAfterFirst,
  };

  // 5. A protected API that validates the access token against the server's JWKS.
  const api = await startResourceServer(resourceCheck);
  closers.push(() => api.close());
  const response = await fetch(`${api.url}/me`, { headers: { authorization: `${token.tokenType} ${token.token}` } });
  report.resource = { status: response.status, body: await response.json() };
  if (response.status !== 200 || !report.cache.hit || report.cache.tokenRequestsSent !== 1) {
    throw Object.assign(new Error('the demo did not get the expected answers'), { code: 'DEMO_CHECK_FAILED' });
  }

  if (flags.json) console.log(JSON.stringify(report, null, 2));
  else printTrace(report);
} catch (error) {
  console.error(`demo failed: ${error?.code ?? error?.name}: ${error?.message}`);
  process.exitCode = 1;
} finally {
  for (const close of closers.reverse()) await close().catch(() => {});
  await rm(dir, { recursive: true, force: true });
}

function printTrace(r) {
  const c = r.certificate;
  say(`1. Certificate  ${c.subject}  (${c.key}), valid ${c.notBefore} → ${c.notAfter}`);
  say(`   ${c.file}: ${c.encoding}`);
  say(`   x5t       ${c.thumbprints.x5t}          SHA-1   ${c.thumbprints.sha1Hex}`);
  say(`   x5t#S256  ${c.thumbprints['x5t#S256']}   SHA-256 ${c.thumbprints.sha256Hex}`);
  say(`2. Server       ${r.server.kind}`);
  say(`   token endpoint ${r.server.tokenEndpoint}`);
  say(`3. Request      POST ${r.request.fields.join(', ')}`);
  say(`   grant_type=${r.request.grant_type}  scope=${r.request.scope}`);
  say(`   client_assertion_type=${r.request.client_assertion_type}`);
  say(`   assertion header ${JSON.stringify(r.assertion.header)}`);
  say(`   assertion claims ${JSON.stringify(r.assertion.claims)}`);
  say(`   signature (elided)`);
  say(`4. Token        ${r.token.tokenType}, ${r.token.length} characters (not shown), expires ${r.token.expiresOn}, refresh after ${r.token.refreshAfter}`);
  say(`   first call ${r.token.firstCallMs} ms; second call ${r.cache.secondCallMicroseconds} µs from the cache (same token: ${r.cache.hit}); token requests sent: ${r.cache.tokenRequestsSent}`);
  say(`5. Resource     GET /me → ${r.resource.status} ${JSON.stringify(r.resource.body)}`);
  say('Done: servers stopped, temporary files removed.');
}

function pick(object, keys) {
  return Object.fromEntries(keys.filter((k) => k in object).map((k) => [k, object[k]]));
}

function round(n, digits) {
  return Number(n.toFixed(digits));
}
