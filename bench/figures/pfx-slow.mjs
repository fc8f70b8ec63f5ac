// One load of a 600,000-iteration PFX (key bag, certificate bag and MAC all at
// 600,000), ours or `openssl pkcs12`'s, in a fresh process.
//   ours: loadCredential in this process (modules already imported), with the
//     event loop watched meanwhile: a 1 ms setInterval probe (longest gap
//     between ticks, minus the 1 ms period) and perf_hooks.monitorEventLoopDelay
//     (its max).
//   openssl: `openssl pkcs12 -in … -nodes` (MAC checked, every bag decrypted),
//     a whole process, minus the median of three `openssl version` processes
//     (its start-up), so both sides count the derivations and decryption only.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadCredential } from '@x/assertion';
import { report } from '../lib/child.mjs';

function timedProcess(args, env) {
  const start = performance.now();
  const { status, stderr } = spawnSync('openssl', args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  if (status !== 0) throw new Error(`openssl ${args[0]} failed: ${stderr}`);
  return performance.now() - start;
}

function opensslLoad({ pfxPath, passphrase, legacy }) {
  const startupMs = [0, 1, 2].map(() => timedProcess(['version'])).sort((a, b) => a - b)[1];
  const args = ['pkcs12', '-in', pfxPath, '-passin', 'env:PW', '-nodes', '-out', '/dev/null', ...(legacy ? ['-legacy'] : [])];
  const processMs = timedProcess(args, { PW: passphrase });
  return { side: 'openssl', ms: processMs - startupMs, processMs, startupMs };
}

async function oursLoad({ pfxPath, passphrase }) {
  const bytes = readFileSync(pfxPath);
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let last = performance.now();
  let maxGap = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  await sleep(30); // let the probes tick before the load starts
  // The noise floor: the same probe over an idle loop (a busy shared machine
  // delays ticks too).
  maxGap = 0;
  last = performance.now();
  await sleep(300);
  const idleMaxGapMs = Math.max(0, maxGap - 1);
  histogram.enable();
  await sleep(20); // its first tick only sets its reference time (and reset() would clear that too)
  maxGap = 0;
  last = performance.now();

  const start = performance.now();
  await loadCredential({ pfx: bytes, passphrase });
  const ms = performance.now() - start;
  await sleep(5); // the probe's tick right after a blocking load records the gap
  clearInterval(probe);
  histogram.disable();
  return { side: 'ours', ms, maxBlockMs: Math.max(0, maxGap - 1), monitorEventLoopDelayMaxMs: histogram.max / 1e6, idleMaxGapMs };
}

report((params) => (params.side === 'ours' ? oursLoad(params) : opensslLoad(params)));
