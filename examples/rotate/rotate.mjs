#!/usr/bin/env node
// Key rotation for a certificate-authenticated client, step by step:
//   1. the certificate in use now, and 2. a new one (both thumbprints);
//   3. the JWKS to register while both are accepted, and 4. the Microsoft
//      Entra `keyCredentials` entries (both from `x-assertion jwks [--entra]`);
//   5. a test assertion signed with the new key and verified;
//   6. a running credential picking the new file up: a ClientCertificateCredential
//      given a path, the file atomically replaced, the next token request signed
//      with the new certificate — shown against a local oidc-provider whose JWKS
//      holds both keys, printing the x5t#S256 the server saw before and after.
// Nothing leaves 127.0.0.1; no passphrase, key, assertion or token is printed.
//
//   node rotate.mjs                                   # all throwaway, nothing kept
//   AZURE_CLIENT_CERTIFICATE_PASSWORD=… node rotate.mjs --cert /etc/app/app.pfx --out-dir ./next
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify, parseArgs } from 'node:util';
import { createClientAssertion, loadCredential, loadCredentialFile, verifyClientAssertion } from '@x/assertion';
import { startOidcServer } from '@x/devserver';
import { makeSelfSignedPfx } from '@x/examples-shared';
import { ClientCertificateCredential } from '@x/token';

const USAGE = `usage: node rotate.mjs [--cert <file>] [--out-dir <dir>] [--client-id <id>] [--common-name <cn>] [--days <n>] [--json]

  --cert <file>        the certificate in use now (PFX or PEM bundle); default: a throwaway one
  --out-dir <dir>      keep new.pfx, new.crt, old.crt, jwks.json and key-credentials.json there
                       (default: a temporary directory, removed at the end)
  --client-id <id>     the client id for the test assertion and the local server (default rotate-demo)
  --common-name <cn>   subject CN of the new certificate (default: the client id)
  --days <n>           validity of the new certificate (default 365)
  --json               print one JSON report (full JWKS and keyCredentials) instead of the trace

AZURE_CLIENT_CERTIFICATE_PASSWORD opens --cert and protects new.pfx (required with --out-dir).`;

let flags;
try {
  ({ values: flags } = parseArgs({
    options: {
      cert: { type: 'string' },
      'out-dir': { type: 'string' },
      'client-id': { type: 'string', default: 'rotate-demo' },
      'common-name': { type: 'string' },
      days: { type: 'string', default: '365' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  usageError(error.message);
}
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const days = Number(flags.days);
if (!Number.isInteger(days) || days < 1) usageError('--days must be a positive integer');
const envPassphrase = process.env.AZURE_CLIENT_CERTIFICATE_PASSWORD || undefined;
if (flags['out-dir'] && envPassphrase === undefined) usageError('--out-dir needs AZURE_CLIENT_CERTIFICATE_PASSWORD: it protects new.pfx');

const CLIENT_ID = flags['client-id'];
const CLI = fileURLToPath(new URL('../bin/x-assertion.js', import.meta.resolve('@x/cli')));
const run = promisify(execFile);
const say = (line = '') => flags.json || console.log(line);
const report = {};
const closers = [];

try {
  const work = flags['out-dir'] ? resolve(flags['out-dir']) : await mkdtemp(join(tmpdir(), 'x-rotate-'));
  if (flags['out-dir']) await mkdir(work, { recursive: true });
  else closers.push(() => rm(work, { recursive: true, force: true }));
  const passphrase = envPassphrase ?? randomBytes(18).toString('base64url'); // never printed

  // 1. The certificate in use now.
  let currentPath = flags.cert && resolve(flags.cert);
  if (currentPath === undefined) {
    currentPath = join(work, 'current.pfx');
    await writeFile(currentPath, makeSelfSignedPfx({ commonName: CLIENT_ID, passphrase, days: 30 }).pfx, { mode: 0o600 });
  }
  const current = await loadCredentialFile(currentPath, { passphrase, ignoreValidityPeriod: true });
  report.current = summary(current, flags.cert ? currentPath : '(throwaway)');

  // 2. The new certificate: a fresh key pair, self-signed, in a PFX with the same passphrase
  //    (so the deployment's AZURE_CLIENT_CERTIFICATE_PASSWORD does not change).
  const made = makeSelfSignedPfx({ commonName: flags['common-name'] ?? CLIENT_ID, passphrase, days });
  const next = await loadCredential({ pfx: made.pfx, passphrase });
  if (next.kid === current.kid) throw Object.assign(new Error('the new certificate equals the current one'), { code: 'ROTATE_SAME_KEY' });
  report.next = summary(next, flags['out-dir'] ? join(work, 'new.pfx') : '(throwaway)');
  const files = {
    oldCrt: join(work, 'old.crt'),
    newCrt: join(work, 'new.crt'),
    newPfx: join(work, 'new.pfx'),
    jwks: join(work, 'jwks.json'),
    keyCredentials: join(work, 'key-credentials.json'),
  };
  await writeFile(files.oldCrt, current.x509.toString());
  await writeFile(files.newCrt, next.x509.toString());
  await writeFile(files.newPfx, made.pfx, { mode: 0o600 });

  // 3 + 4. What the authorization server must know during the overlap: both public keys.
  //        Certificates alone, so the CLI needs no passphrase.
  report.jwks = await cli('jwks', files.oldCrt, files.newCrt);
  report.keyCredentials = (await cli('jwks', '--entra', files.oldCrt, files.newCrt)).keyCredentials;
  await writeFile(files.jwks, `${JSON.stringify(report.jwks, null, 2)}\n`);
  await writeFile(files.keyCredentials, `${JSON.stringify({ keyCredentials: report.keyCredentials }, null, 2)}\n`);
  if (flags['out-dir']) report.files = files;

  // A real authorization server on loopback with that JWKS registered for the client.
  const server = await startOidcServer({ clients: [{ clientId: CLIENT_ID, jwks: report.jwks }], scopes: ['api.read'] });
  closers.push(() => server.close());

  // 5. A test assertion signed with the new key, verified as a server would — and, to show the
  //    difference, against the old certificate too.
  const assertion = await createClientAssertion(next, { clientId: CLIENT_ID, audience: server.tokenEndpoint, kid: next.kid });
  const expected = { clientId: CLIENT_ID, audience: server.tokenEndpoint };
  const withNew = await verifyClientAssertion(assertion, next, expected);
  const withOld = await verifyClientAssertion(assertion, current, expected);
  report.testAssertion = {
    header: withNew.header,
    claims: withNew.claims,
    signature: '(elided)',
    verifiedWithNewCertificate: { valid: withNew.valid, problems: withNew.problems },
    verifiedWithOldCertificate: { valid: withOld.valid, problems: [...new Set(withOld.problems.map((p) => p.code))] },
  };

  // 6. A running credential picks the new file up. It is given a *path*; the file is replaced
  //    atomically (write a temporary file, then rename: a reader never sees half a file).
  const live = join(work, 'live.pfx');
  await copyFile(currentPath, live);
  closers.push(() => rm(live, { force: true }));
  const events = [];
  const credential = new ClientCertificateCredential('unused', CLIENT_ID, { certificatePath: live, passphrase }, {
    issuer: server.issuer,
    certificateCheckIntervalMs: 0, // check the file before every signing (default: at most every 30 s)
    logger: (event) => events.push(event),
  });
  const sawBefore = await tokenRequestSeen(() => credential.getToken('api.read'));
  await writeFile(`${live}.tmp`, made.pfx, { mode: 0o600 });
  await rename(`${live}.tmp`, live);
  const requestsBeforeCachedCall = server.requests.length;
  await credential.getToken('api.read'); // still the cached token: no request, no signing
  const cachedTokenServedAfterSwap = server.requests.length === requestsBeforeCachedCall;
  // The next token request is a scheduled refresh (or a forced one after a 401); here, forced.
  const sawAfter = await tokenRequestSeen(() => credential.getToken('api.read', { forceRefresh: true }));
  const rotation = events.find((e) => e.type === 'rotation');
  report.pickup = {
    file: 'live.pfx (a copy of the current certificate, replaced by new.pfx)',
    before: sawBefore,
    after: sawAfter,
    rotationEvent: rotation && { previousThumbprint: rotation.previousThumbprint, thumbprint: rotation.thumbprint, notAfter: rotation.notAfter },
    tokenRequests: server.requests.length,
    cachedTokenServedAfterSwap,
  };

  const ok =
    withNew.valid &&
    !withOld.valid &&
    report.jwks.keys.length === 2 &&
    report.keyCredentials.length === 2 &&
    sawBefore.status === 200 &&
    sawAfter.status === 200 &&
    sawBefore['x5t#S256'] === current.thumbprints['x5t#S256'] &&
    sawAfter['x5t#S256'] === next.thumbprints['x5t#S256'] &&
    rotation !== undefined &&
    cachedTokenServedAfterSwap;
  report.ok = ok;
  if (flags.json) console.log(JSON.stringify(report, null, 2));
  else printTrace(report);
  if (!ok) throw Object.assign(new Error('the rotation did not give the expected results'), { code: 'ROTATE_CHECK_FAILED' });

  /** Run `fn` (one token request expected) and return what the server saw and answered. */
  async function tokenRequestSeen(fn) {
    const before = server.requests.length;
    let status = 200;
    try {
      await fn();
    } catch (error) {
      status = error?.status ?? error?.code ?? 'failed';
    }
    const request = server.requests[before];
    return {
      status,
      'x5t#S256': request?.assertion?.header['x5t#S256'],
      kid: request?.assertion?.header.kid,
      jti: request?.assertion?.claims.jti,
    };
  }
} catch (error) {
  console.error(`rotate failed: ${error?.code ?? error?.name}: ${error?.message}`);
  process.exitCode = 1;
} finally {
  for (const close of closers.reverse()) await close().catch(() => {});
}

/** `x-assertion <args>` as a subprocess, its stdout parsed as JSON (the CLI prints only the document there). */
async function cli(...args) {
  try {
    const { stdout } = await run(process.execPath, [CLI, ...args]);
    return JSON.parse(stdout);
  } catch (error) {
    throw Object.assign(new Error(`x-assertion ${args[0]} failed: ${error.stderr?.trim() || error.message}`), { code: 'ROTATE_CLI_FAILED' });
  }
}

function summary(cert, file) {
  return {
    file,
    subject: cert.subject,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    key: `${cert.keyType} ${cert.keySize}`,
    thumbprints: cert.thumbprints,
  };
}

function printTrace(r) {
  const cert = (n, label, c) => {
    say(`${n}. ${label}  ${c.subject}  (${c.key}), valid ${c.notBefore} → ${c.notAfter}  ${c.file}`);
    say(`   x5t#S256  ${c.thumbprints['x5t#S256']}   SHA-256 ${c.thumbprints.sha256Hex}`);
    say(`   x5t       ${c.thumbprints.x5t}   SHA-1 (portal "thumbprint") ${c.thumbprints.sha1Hex}`);
  };
  cert(1, 'Current certificate', r.current);
  cert(2, 'New certificate    ', r.next);
  say('3. JWKS with both keys (x-assertion jwks old.crt new.crt; long values shortened, --json prints them whole):');
  say(indent(JSON.stringify(shorten(r.jwks), null, 2)));
  say('4. Entra keyCredentials (x-assertion jwks --entra old.crt new.crt; PATCH replaces the list, so keep both):');
  say(indent(JSON.stringify(shorten({ keyCredentials: r.keyCredentials }), null, 2)));
  const t = r.testAssertion;
  say('5. Test assertion signed with the new key (signature elided)');
  say(`   header ${JSON.stringify(t.header)}`);
  say(`   claims ${JSON.stringify(t.claims)}`);
  say(`   verified with the new certificate: ${t.verifiedWithNewCertificate.valid ? 'valid' : `INVALID ${JSON.stringify(t.verifiedWithNewCertificate.problems)}`}`);
  say(`   verified with the old certificate: ${t.verifiedWithOldCertificate.valid ? 'valid (unexpected!)' : `invalid, as it should be (${t.verifiedWithOldCertificate.problems.join(', ')})`}`);
  const p = r.pickup;
  say('6. A running ClientCertificateCredential given a path picks the new file up');
  say(`   before the swap the server saw x5t#S256 ${p.before['x5t#S256']} → HTTP ${p.before.status}`);
  say('   live.pfx replaced atomically (write live.pfx.tmp, rename); the cached token stays in use');
  say(`   next token request:         x5t#S256 ${p.after['x5t#S256']} → HTTP ${p.after.status}`);
  if (p.rotationEvent) say(`   credential event "rotation": ${p.rotationEvent.previousThumbprint} → ${p.rotationEvent.thumbprint}`);
  if (r.files) {
    say(`Kept in ${r.files.newPfx.replace(/new\.pfx$/, '')}: new.pfx, new.crt, old.crt, jwks.json, key-credentials.json`);
  }
  say(r.ok ? 'Done: both keys registered, new key verified, credential switched without a restart.' : 'Something did not match: see above.');
}

/** Long base64 values (n, x5c, key) shortened for the trace. */
function shorten(value) {
  if (typeof value === 'string') return value.length > 60 ? `${value.slice(0, 24)}…(${value.length} chars)` : value;
  if (Array.isArray(value)) return value.map(shorten);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shorten(v)]));
  return value;
}

function indent(text) {
  return text.replace(/^/gm, '   ');
}

function usageError(message) {
  process.stderr.write(`rotate: ${message}\n${USAGE}\n`);
  process.exit(2);
}
