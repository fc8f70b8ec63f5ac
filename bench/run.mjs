#!/usr/bin/env node
// `pnpm bench`: benchmarks against the tools users would pick instead — raw
// node:crypto, node-forge, MSAL Node (and @azure/identity for the dependency
// tree). Every comparison is measured in this run, alternating ours and the
// reference, medians over rounds; figures that depend on process state
// (import + first token, 200 cold calls, memory, PFX loads) run in fresh child
// processes. See README.md for what each figure means.
//
// usage: node bench/run.mjs [--json] [--quick] [--only signing,pfx,slow-pfx,cache,first-token,concurrent,memory,deps]
//                           [--cpu-prof DIR]  (every child writes a .cpuprofile there; see profile-summary.mjs)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startEntraServer } from '@x/devserver';
import { runChild, setCpuProfileDir } from './lib/child.mjs';
import { makeFixtures } from './lib/fixtures.mjs';
import { machine } from './lib/machine.mjs';
import { median } from './lib/stats.mjs';
import { renderTable } from './lib/table.mjs';
import { dependencyTree } from './figures/deps.mjs';

// The fleet figure (issue 13: Redis + 16 processes) runs on its own: node bench/figures/fleet.mjs
if (/(^| )--only[= ]fleet( |$)/.test(process.argv.slice(2).join(' '))) {
  await import('./figures/fleet.mjs');
  process.exit(process.exitCode ?? 0);
}
const FIGURES = ['signing', 'pfx', 'slow-pfx', 'cache', 'first-token', 'concurrent', 'memory', 'deps'];
FIGURES.push('cli-startup');
const { values: flags } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'), // `pnpm bench -- --json` passes the `--` on
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
FIGURES.push('pkcs11'); // @x/pkcs11 vs raw pkcs11js on SoftHSM (bench/figures/pkcs11.mjs)
if (flags.help) {
  console.log(`usage: pnpm bench [--json] [--quick] [--only ${FIGURES.join(',')}] [--cpu-prof DIR]`);
  process.exit(0);
}
if (flags['cpu-prof']) setCpuProfileDir(flags['cpu-prof']);
const only = new Set(flags.only ? flags.only.split(',') : FIGURES);
for (const name of only) if (!FIGURES.includes(name)) throw new Error(`unknown figure ${name}; one of ${FIGURES.join(', ')}`);

// Rounds and sizes. --quick is for checking the harness, not for numbers.
const q = flags.quick;
const CONFIG = {
  signing: { rounds: q ? 2 : 9, sliceMs: q ? 60 : 150, inFlight: 16 },
  pfx: { rounds: q ? 2 : 7, oursPerRound: q ? 3 : 10, forgePerRound: q ? 1 : 4 },
  slowPfx: { rounds: q ? 1 : 3 },
  cache: { rounds: q ? 2 : 7, oursCalls: q ? 2_000 : 20_000, msalCalls: q ? 200 : 2_000 },
  firstToken: { rounds: q ? 1 : 5 },
  concurrent: { rounds: q ? 1 : 2, callers: 200 },
  memory: { tokens: q ? 100 : 1_000, concurrency: 8 },
};
CONFIG.cliStartup = { rounds: q ? 3 : 21 };
const TENANT_ID = 'bench-tenant';
const CLIENT_ID = 'bench-client';
const SCOPE = 'api://bench-api/.default';

const log = (line) => process.stderr.write(`${line}\n`);
const startedAt = performance.now();
const results = { machine: machine(), config: CONFIG, figures: {} };
const closers = [];
const dir = mkdtempSync(join(tmpdir(), 'x-bench-'));

try {
  log(`bench: node ${results.machine.node}, ${results.machine.cpu}, ${results.machine.cores} cores, load average ${results.machine.loadAverageAtStart.join(' ')}`);
  const fx = makeFixtures(dir);
  results.fixtures = { pfxDefault: fx.pfxDefaultInfo, pfxSlow: fx.pfxSlowInfo, pfxSlowLegacy: fx.pfxSlowLegacyInfo };

  // The local Entra ID v2 endpoint, on HTTPS (MSAL Node refuses http: authorities); both clients call it.
  const devserver = await startEntraServer({
    tenantId: TENANT_ID,
    clients: [{ clientId: CLIENT_ID, certificates: [readFileSync(fx.clientCert, 'utf8')] }],
    tls: { cert: readFileSync(fx.tlsCert), key: readFileSync(fx.tlsKey) },
  });
  closers.push(() => devserver.close());
  const origin = devserver.url;
  // MSAL's authorityMetadata (it needs authorization_endpoint, which a client credentials server does not serve).
  const metadata = {
    issuer: devserver.issuer('v2'),
    token_endpoint: devserver.tokenEndpoint('v2'),
    authorization_endpoint: `${origin}/${TENANT_ID}/oauth2/v2.0/authorize`,
    jwks_uri: devserver.jwksUri,
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    grant_types_supported: ['client_credentials'],
  };
  const endpoint = { origin, host: new URL(origin).host, tenantId: TENANT_ID, clientId: CLIENT_ID, metadata };
  const tlsEnv = { NODE_EXTRA_CA_CERTS: fx.caCert }; // read at process start: every client runs in a child
  /** Token requests received so far: POSTs to a token endpoint path (the devserver records nothing else). */
  const tokenRequests = () => devserver.requests.filter((r) => r.method === 'POST').length;
  /** Runs a child and returns its report plus the token requests the server received meanwhile. */
  const counted = async (script, params, options) => {
    const before = tokenRequests();
    const out = await runChild(script, params, options);
    return { ...out, tokenRequests: tokenRequests() - before };
  };
  const figure = async (name, fn) => {
    if (!only.has(name)) return;
    const t = performance.now();
    log(`bench: ${name}…`);
    results.figures[name] = await fn();
    results.figures[name].figureSeconds = (performance.now() - t) / 1000;
  };

  await figure('signing', () => runChild('signing.mjs', { rsaPem: fx.clientPem, ecCert: fx.ecCert, ecKey: fx.ecKey, ...CONFIG.signing }));

  await figure('pfx', () => runChild('pfx-default.mjs', { pfxPath: fx.pfxDefault, passphrase: fx.passphrase, ...CONFIG.pfx }));

  await figure('slow-pfx', async () => {
    // Each file: ours and `openssl pkcs12`, alternating, one fresh process per run.
    const files = { legacy: { pfxPath: fx.pfxSlowLegacy, legacy: true }, aes: { pfxPath: fx.pfxSlow, legacy: false } };
    const out = {};
    for (const [name, file] of Object.entries(files)) {
      const runs = [];
      for (let round = 0; round < CONFIG.slowPfx.rounds; round++) {
        for (const side of round % 2 ? ['openssl', 'ours'] : ['ours', 'openssl']) runs.push(await runChild('pfx-slow.mjs', { side, ...file, passphrase: fx.passphrase }));
      }
      const of = (side, key) => median(runs.filter((r) => r.side === side && r[key] !== undefined).map((r) => r[key]));
      const ours = Object.fromEntries(['ms', 'maxBlockMs', 'monitorEventLoopDelayMaxMs', 'idleMaxGapMs'].map((k) => [k, of('ours', k)]));
      const openssl = Object.fromEntries(['ms', 'processMs', 'startupMs'].map((k) => [k, of('openssl', k)]));
      out[name] = { ours, openssl, ratio: ours.ms / openssl.ms, runs };
    }
    return out;
  });

  await figure('cache', () => counted('cache-hit.mjs', { endpoint, pemPath: fx.clientPem, scope: SCOPE, ...CONFIG.cache }, { env: tlsEnv }));

  await figure('first-token', async () => {
    const runs = { ours: [], msal: [] };
    for (let round = 0; round < CONFIG.firstToken.rounds; round++) {
      for (const side of round % 2 ? ['msal', 'ours'] : ['ours', 'msal']) {
        runs[side].push(await counted('first-token.mjs', { side, endpoint, pemPath: fx.clientPem, scope: SCOPE }, { env: tlsEnv }));
      }
    }
    const of = (side, key) => median(runs[side].map((r) => r[key]));
    const summary = (side) => ({ totalMs: of(side, 'totalMs'), importMs: of(side, 'importMs'), firstTokenMs: of(side, 'firstTokenMs'), processWallMs: of(side, 'wallMs') });
    return {
      ours: summary('ours'),
      msal: summary('msal'),
      ratio: median(runs.ours.map((r, i) => r.totalMs / runs.msal[i].totalMs)),
      runs,
    };
  });

  await figure('concurrent', async () => {
    const runs = { ours: [], msal: [] };
    for (let round = 0; round < CONFIG.concurrent.rounds; round++) {
      for (const side of round % 2 ? ['msal', 'ours'] : ['ours', 'msal']) {
        // A scope no earlier figure asked for: every run starts cold.
        const scope = `api://bench-concurrent-${side}-${round}/.default`;
        runs[side].push(await counted('concurrent.mjs', { side, endpoint, pemPath: fx.clientPem, scope, callers: CONFIG.concurrent.callers }, { env: tlsEnv }));
      }
    }
    const of = (side, key) => median(runs[side].map((r) => r[key]));
    const summary = (side) => ({ tokenRequests: of(side, 'tokenRequests'), fulfilled: of(side, 'fulfilled'), rejected: of(side, 'rejected'), firstError: runs[side].find((r) => r.firstError)?.firstError });
    return { callers: CONFIG.concurrent.callers, ours: summary('ours'), msal: summary('msal'), runs };
  });

  // Ours only: MSAL Node reuses one client assertion (same `jti`) for every
  // request for 10 minutes, which a server enforcing single-use `jti` (the
  // devserver, oidc-provider) refuses after the first token.
  await figure('memory', () =>
    counted('memory.mjs', { side: 'ours', endpoint, pemPath: fx.clientPem, ...CONFIG.memory }, { env: tlsEnv, execArgv: ['--expose-gc'] }),
  );

  await figure('pkcs11', async () => {
    const r = await runChild('pkcs11.mjs', { rounds: q ? 1 : 5, sliceMs: q ? 200 : 600 });
    for (const f of Object.values(r).filter((v) => v?.alg)) {
      log(`bench: pkcs11 ${f.alg}, ${f.sessions} session(s): ${Math.round(f.ours)}/s vs raw pkcs11js ${Math.round(f.reference)}/s = ${f.ratio.toFixed(3)}× (target ≥ 0.9×)`);
    }
    return r;
  });

  await figure('deps', async () => {
    const from = new URL('.', import.meta.url).pathname;
    return Object.fromEntries(['@x/assertion', '@x/token', '@azure/msal-node', '@azure/identity'].map((name) => [name, dependencyTree(name, from)]));
  });

  await figure('cli-startup', () => runChild('cli-startup.mjs', { certPath: fx.clientCert, ...CONFIG.cliStartup }));

  // What reached the token endpoint (the devserver records only token endpoint paths).
  results.server = { tokenEndpoint: devserver.tokenEndpoint('v2'), tokenRequests: tokenRequests(), otherOnTokenPaths: devserver.requests.length - tokenRequests() };
  results.machine.loadAverageAtEnd = loadavg().map((x) => Number(x.toFixed(2)));
  results.totalSeconds = (performance.now() - startedAt) / 1000;
  const table = renderTable(results);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ ...results, table: table.rows }, null, 2)}\n`);
    log(table.text);
  } else {
    console.log(table.text);
  }
} catch (error) {
  log(`bench failed: ${error?.stack ?? error}`);
  process.exitCode = 1;
} finally {
  for (const close of closers.reverse()) await close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
