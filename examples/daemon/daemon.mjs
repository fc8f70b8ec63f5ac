#!/usr/bin/env node
// A long-running worker: every few seconds it calls a protected API with an
// access token obtained with a certificate (ClientCertificateCredential, a
// signed JWT client assertion, never a client secret). Tokens come from the
// credential's cache and are refreshed ahead of expiry in the background; a
// 401 from the API forces one refresh (createAuthorizedFetch). Every log line
// is redacted: no token, assertion or passphrase. SIGTERM / SIGINT stop it
// cleanly (the call in flight is aborted, local servers closed, exit 0).
//
//   node daemon.mjs --local                 # everything on 127.0.0.1, refreshes every 10 s
//   node daemon.mjs                         # for real: AZURE_TENANT_ID, AZURE_CLIENT_ID,
//                                           # AZURE_CLIENT_CERTIFICATE_PATH [, AZURE_CLIENT_CERTIFICATE_PASSWORD]
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startEntraServer, startOidcServer, startResourceServer } from '@x/devserver';
import { makeSelfSignedPfx } from '@x/examples-shared';
import { ClientCertificateCredential, createAuthorizedFetch } from '@x/token';

const USAGE = `usage: node daemon.mjs [--local [--server entra|oidc] [--token-lifetime <s>] [--refresh-in <s>]]
                      [--interval <s>] [--url <api-url>] [--scope <scope>] [--authority-host <url>]
                      [--log-format text|json] [--verbose]

  --interval <s>        seconds between API calls (env DAEMON_INTERVAL_SECONDS; default 5)
  --url <url>           the API to call (env DAEMON_API_URL; default Azure Resource Manager's
                        subscription list, which any service principal may call)
  --scope <scope>       the token scope (env DAEMON_SCOPE; default https://management.azure.com/.default)
  --authority-host <u>  another cloud (env AZURE_AUTHORITY_HOST; default https://login.microsoftonline.com)
  --log-format <f>      text (default) or json: one JSON object per line (env DAEMON_LOG_FORMAT)
  --verbose             also log cache hits
  --local               start an authorization server and an API on 127.0.0.1 with a throwaway
                        certificate (env DAEMON_LOCAL=1); no Azure account needed
  --server <s>          entra (default): Entra ID v2-shaped token endpoint; oidc: oidc-provider
  --token-lifetime <s>  lifetime of local access tokens (entra default 60; oidc default 300 + refresh-in)
  --refresh-in <s>      when a local token is due for refresh (default 10): Entra's refresh_in;
                        for oidc, the lifetime is set so that the refresh rule lands there

For real: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_CERTIFICATE_PATH (PFX or PEM bundle),
AZURE_CLIENT_CERTIFICATE_PASSWORD (if encrypted). Replacing the certificate file is picked up
without a restart.`;

const LOCAL_CLIENT_ID = 'daemon-local';
const LOCAL_TENANT_ID = 'daemon-local-tenant';
const LOCAL_API = 'https://api.example.test';

// ---------------------------------------------------------------------------
// Configuration: flags win over environment variables.
let flags;
try {
  ({ values: flags } = parseArgs({
    options: {
      local: { type: 'boolean' },
      server: { type: 'string' },
      interval: { type: 'string' },
      'token-lifetime': { type: 'string' },
      'refresh-in': { type: 'string' },
      url: { type: 'string' },
      scope: { type: 'string' },
      'authority-host': { type: 'string' },
      'log-format': { type: 'string' },
      verbose: { type: 'boolean', default: false },
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
const env = process.env;
const local = flags.local ?? ['1', 'true', 'yes'].includes((env.DAEMON_LOCAL ?? '').toLowerCase());
const intervalMs = seconds(flags.interval ?? env.DAEMON_INTERVAL_SECONDS ?? '5', 'interval', 0.05) * 1000;
const logFormat = flags['log-format'] ?? env.DAEMON_LOG_FORMAT ?? 'text';
if (!['text', 'json'].includes(logFormat)) usageError('--log-format must be text or json');
const serverKind = flags.server ?? env.DAEMON_SERVER ?? 'entra';
if (!['entra', 'oidc'].includes(serverKind)) usageError('--server must be entra or oidc');

// ---------------------------------------------------------------------------
// Logging: one line per event, every line passed through `redact` as a last
// line of defence (the credential's events are redacted by construction).
const secrets = new Set();
const JWT = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?/g;
function redact(text) {
  let out = text.replace(JWT, '[redacted JWT]');
  for (const secret of secrets) out = out.replaceAll(secret, '[redacted]');
  return out;
}
function log(level, event, fields = {}) {
  const time = new Date().toISOString();
  const line =
    logFormat === 'json'
      ? JSON.stringify({ time, level, event, ...fields })
      : `${time} ${level.padEnd(5)} ${event.padEnd(14)} ${Object.entries(fields)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k}=${typeof v === 'string' && !/[\s"]/.test(v) ? v : JSON.stringify(v)}`)
          .join(' ')}`;
  (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(`${redact(line)}\n`);
}

const stats = { calls: 0, ok: 0, failed: 0, tokens: 0, refreshes: 0, rotations: 0 };
const started = performance.now();
const iso = (ms) => new Date(ms).toISOString();
const inSeconds = (ms) => Math.round((ms - Date.now()) / 100) / 10;

/** The credential's events (redacted by the library: endpoints, scopes, times, thumbprints, codes). */
function onTokenEvent(event) {
  const { type, clientId, ...fields } = event;
  switch (type) {
    case 'cache-hit':
      if (flags.verbose) log('debug', type, fields);
      return;
    case 'request':
    case 'response':
      return log('info', `token-${type}`, fields);
    case 'token':
      stats.tokens += 1;
      return log('info', 'token', {
        scope: fields.scope,
        expiresOn: iso(fields.expiresOnTimestamp),
        refreshAfter: iso(fields.refreshAfterTimestamp),
        refreshInS: inSeconds(fields.refreshAfterTimestamp),
      });
    case 'refresh':
      stats.refreshes += 1;
      return log('info', 'refresh', fields);
    case 'rotation':
      stats.rotations += 1;
      return log('info', 'rotation', fields);
    case 'retry':
    case 'refresh-failed':
      return log('warn', type, fields);
    default:
      return log('error', type, fields);
  }
}

// ---------------------------------------------------------------------------
// Set-up: a local world (--local) or the real one (environment).
const cleanups = [];
let config;
try {
  config = local ? await startLocal() : fromEnvironment();
} catch (error) {
  log('error', 'startup-failed', describe(error));
  await cleanup();
  process.exit(1);
}
if (config.passphrase) secrets.add(config.passphrase);

let credential;
try {
  credential = new ClientCertificateCredential(
    config.tenantId,
    config.clientId,
    { certificatePath: config.certificatePath, passphrase: config.passphrase },
    { ...config.endpoint, logger: onTokenEvent, certificateCheckIntervalMs: 30_000 },
  );
} catch (error) {
  log('error', 'startup-failed', describe(error));
  await cleanup();
  process.exit(2);
}
const callApi = createAuthorizedFetch(credential, config.scope);
const { certificate: _certificate, ...where } = credential.toJSON();

log('info', 'start', {
  mode: local ? `local (${serverKind})` : 'azure',
  ...where, // client id and token endpoint (or issuer): toJSON() never shows a key or passphrase
  certificate: config.certificatePath,
  scope: config.scope,
  url: config.url,
  intervalS: intervalMs / 1000,
  pid: process.pid,
});

// ---------------------------------------------------------------------------
// The loop, and a clean stop.
const stop = new AbortController();
let stopSignal;
let fatal = false;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    if (stopSignal !== undefined) {
      log('warn', 'forced-exit', { signal });
      process.exit(130);
    }
    stopSignal = signal;
    log('info', 'stopping', { signal });
    stop.abort();
    setTimeout(() => {
      log('error', 'stop-timeout', { afterMs: 10_000 });
      process.exit(1);
    }, 10_000).unref();
  });
}

while (!stop.signal.aborted) {
  await callOnce();
  try {
    await sleep(intervalMs, undefined, { signal: stop.signal });
  } catch {
    // aborted: stopping
  }
}
await cleanup();
log(fatal ? 'error' : 'info', 'stopped', { signal: stopSignal, ...stats, uptimeS: Math.round(performance.now() - started) / 1000 });
process.exitCode = fatal ? 1 : 0;

async function callOnce() {
  stats.calls += 1;
  const t = performance.now();
  try {
    const response = await callApi(config.url, { signal: stop.signal, headers: { accept: 'application/json' } });
    const text = await response.text();
    const ms = Math.round(performance.now() - t);
    const body = parseJson(text);
    if (response.ok) {
      stats.ok += 1;
      log('info', 'api', { call: stats.calls, status: response.status, ms, bytes: text.length, client_id: body?.client_id });
    } else {
      stats.failed += 1;
      // An API's error body names the problem, never the token (RFC 6750 §3).
      log('warn', 'api', { call: stats.calls, status: response.status, ms, error: body?.error?.code ?? body?.error, description: body?.error_description ?? body?.error?.message });
    }
  } catch (error) {
    if (stop.signal.aborted) return log('info', 'api-aborted', { call: stats.calls });
    stats.failed += 1;
    log('error', 'api-failed', { call: stats.calls, ...describe(error) });
    // Fail fast when the certificate cannot be used at all (bad passphrase, wrong file, expired): retrying
    // will not help, and a supervisor should see the failure. (Once running, a bad replacement file is
    // refused by the credential, which keeps the certificate in use and emits `rotation-failed`.)
    if (error?.name === 'CredentialError' && stats.tokens === 0) {
      fatal = true;
      log('error', 'certificate-unusable', { note: 'the certificate could not be loaded; stopping' });
      stop.abort();
    }
  }
}

// ---------------------------------------------------------------------------

function fromEnvironment() {
  const missing = ['AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_CERTIFICATE_PATH'].filter((name) => !env[name]);
  if (missing.length > 0) usageError(`set ${missing.join(', ')} (or use --local)`);
  const authorityHost = flags['authority-host'] ?? env.AZURE_AUTHORITY_HOST;
  return {
    tenantId: env.AZURE_TENANT_ID,
    clientId: env.AZURE_CLIENT_ID,
    certificatePath: env.AZURE_CLIENT_CERTIFICATE_PATH,
    passphrase: env.AZURE_CLIENT_CERTIFICATE_PASSWORD || undefined,
    endpoint: authorityHost ? { authorityHost } : {},
    scope: flags.scope ?? env.DAEMON_SCOPE ?? 'https://management.azure.com/.default',
    url: flags.url ?? env.DAEMON_API_URL ?? 'https://management.azure.com/subscriptions?api-version=2022-12-01',
  };
}

/**
 * A throwaway certificate in a passphrase-protected PFX, a token endpoint
 * that knows it, and an API that accepts that endpoint's tokens: the same
 * configuration a real deployment has, all on 127.0.0.1.
 */
async function startLocal() {
  const refreshIn = seconds(flags['refresh-in'] ?? '10', 'refresh-in', 1, true);
  const lifetime = seconds(flags['token-lifetime'] ?? String(serverKind === 'entra' ? 60 : 300 + refreshIn), 'token-lifetime', 1, true);
  if (lifetime <= 30) {
    log('warn', 'config', {
      note: `tokens of ${lifetime} s are never cached: @x/token stops serving a token 30 s before it expires, so each call fetches a new one`,
    });
  }
  const dir = await mkdtemp(join(tmpdir(), 'x-daemon-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  // With AZURE_CLIENT_CERTIFICATE_PASSWORD set, the throwaway PFX uses it (handy to check the logs never show it).
  const passphrase = env.AZURE_CLIENT_CERTIFICATE_PASSWORD || randomBytes(18).toString('base64url');
  const made = makeSelfSignedPfx({ commonName: LOCAL_CLIENT_ID, passphrase });
  const certificatePath = join(dir, `${LOCAL_CLIENT_ID}.pfx`);
  await writeFile(certificatePath, made.pfx, { mode: 0o600 });

  let endpoint;
  let scope;
  let resource;
  if (serverKind === 'entra') {
    const server = await startEntraServer({
      tenantId: LOCAL_TENANT_ID,
      clients: [{ clientId: LOCAL_CLIENT_ID, certificates: [made.certificatePem] }],
      tokenLifetimeSeconds: lifetime,
      refreshInSeconds: refreshIn,
    });
    cleanups.push(() => server.close());
    endpoint = { authorityHost: server.url };
    scope = `${LOCAL_API}/.default`;
    resource = { issuer: server.issuer('v2'), jwksUri: server.jwksUri, audience: LOCAL_API };
  } else {
    const server = await startOidcServer({
      clients: [{ clientId: LOCAL_CLIENT_ID, jwks: { keys: [certificateJwk(made.certificatePem)] } }],
      resource: LOCAL_API,
      scopes: ['api.read'],
      accessTokenTtlSeconds: lifetime,
    });
    cleanups.push(() => server.close());
    endpoint = { issuer: server.issuer };
    scope = 'api.read';
    resource = { issuer: server.issuer, jwksUri: server.jwksUri, audience: LOCAL_API };
  }
  const api = await startResourceServer(resource);
  cleanups.push(() => api.close());
  log('info', 'local', { server: serverKind, tokenLifetimeS: lifetime, refreshInS: refreshIn, api: api.url });
  return {
    tenantId: LOCAL_TENANT_ID,
    clientId: LOCAL_CLIENT_ID,
    certificatePath,
    passphrase,
    endpoint,
    scope,
    url: `${api.url}/me`,
  };
}

/**
 * The public JWK oidc-provider needs to verify the assertions: what
 * `x-assertion jwks` prints (and `loadCertificate(pem).toJwk()` of
 * `@x/assertion` returns), with `kid` = the `x5t#S256` thumbprint, which is
 * the `kid` the credential puts in its assertions.
 */
function certificateJwk(pem) {
  const x509 = new X509Certificate(pem);
  const kid = createHash('sha256').update(x509.raw).digest('base64url');
  return { ...x509.publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'PS256' };
}

async function cleanup() {
  for (const close of cleanups.reverse()) await close().catch(() => {});
  cleanups.length = 0;
}

/** `code` and `message` of an error: @x/token and @x/assertion messages never carry a secret. */
function describe(error) {
  return { code: error?.code ?? error?.name ?? 'ERROR', message: String(error?.message ?? error) };
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function seconds(value, name, min, integer = false) {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    usageError(`--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min} (seconds)`);
  }
  return n;
}

function usageError(message) {
  process.stderr.write(`daemon: ${message}\n${USAGE}\n`);
  process.exit(2);
}
