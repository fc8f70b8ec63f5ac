#!/usr/bin/env node
// A daemon whose private key never leaves the HSM. Every interval it gets an
// access token with a client assertion signed inside the token (@x/pkcs11,
// named by a PKCS#11 URI), through ClientAssertionCredential of @x/token.
// Logs carry the certificate thumbprint and the token's lifetime, never a
// token, an assertion or the PIN. SIGTERM / SIGINT stop it cleanly (sessions
// closed, module finalised, exit 0).
//
//   eval "$(sh setup-softhsm.sh)"        # a SoftHSM token; prints SOFTHSM2_CONF and HSM_URI
//   node daemon.mjs --local              # against an Entra-shaped server on 127.0.0.1
//   node daemon.mjs                      # for real: AZURE_TENANT_ID, AZURE_CLIENT_ID, HSM_URI
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createClientAssertion } from '@x/assertion';
import { startEntraServer } from '@x/devserver';
import { openPkcs11Signer } from '@x/pkcs11';
import { ClientAssertionCredential } from '@x/token';

const { values: args } = parseArgs({
  options: {
    local: { type: 'boolean', default: false },
    uri: { type: 'string', default: process.env.HSM_URI },
    interval: { type: 'string', default: '5' },
    count: { type: 'string' },
    scope: { type: 'string', default: 'https://graph.microsoft.com/.default' },
  },
});
const log = (event, fields = {}) =>
  console.log(`${new Date().toISOString()} ${event.padEnd(8)} ${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ')}`);

if (!args.uri) {
  console.error('No key: set HSM_URI (or --uri) to a PKCS#11 URI; see setup-softhsm.sh.');
  process.exit(2);
}

const stop = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => stop.abort(signal));

let signer;
let server;
try {
  signer = await openPkcs11Signer(args.uri);
  log('key', { uri: signer.uri, subject: signer.certificate.subject, 'x5t#S256': signer.certificate.thumbprints['x5t#S256'] });
  const tenantId = args.local ? 'hsm-local-tenant' : process.env.AZURE_TENANT_ID;
  const clientId = args.local ? 'hsm-local-client' : process.env.AZURE_CLIENT_ID;
  let options = {};
  if (args.local) {
    // The certificate comes from the token: the server is registered with what the HSM holds.
    server = await startEntraServer({ tenantId, clients: [{ clientId, certificates: [signer.certificate.x509.toString()] }], tokenLifetimeSeconds: 60 });
    options = { authorityHost: server.url };
    log('local', { authority: server.url });
  }
  const credential = new ClientAssertionCredential(
    tenantId,
    clientId,
    ({ tokenEndpoint }) => createClientAssertion(signer, { clientId, audience: tokenEndpoint }),
    options,
  );
  const count = args.count === undefined ? Infinity : Number(args.count);
  for (let i = 1; i <= count && !stop.signal.aborted; i++) {
    // Ask past the cache each time, so every round signs a fresh assertion in the HSM.
    const response = await credential.getTokenResponse(args.scope, { forceRefresh: true, abortSignal: stop.signal }).catch((e) => {
      if (stop.signal.aborted) return undefined;
      log('error', { code: e.code ?? e.name });
      return undefined;
    });
    if (response) log('token', { n: i, scope: args.scope, expiresIn: response.expiresIn });
    if (i < count) await sleep(Number(args.interval) * 1000, undefined, { signal: stop.signal }).catch(() => {});
  }
  log('stopped', { signal: stop.signal.reason ?? 'done' });
} catch (error) {
  log('failed', { code: error.code ?? error.name, ckr: error.ckr ?? '-', message: JSON.stringify(error.message) });
  process.exitCode = 1;
} finally {
  await signer?.close();
  await server?.close();
}
