// One load of a 600,000-iteration PFX (key bag, certificate bag and MAC all at
// 600,000, as `openssl pkcs12 -export -iter 600000` writes it), ours or
// node-forge's, in a fresh process, with the event loop watched meanwhile:
// a 1 ms setInterval probe (longest gap between ticks, minus the 1 ms period)
// and perf_hooks.monitorEventLoopDelay (its max).
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import forge from 'node-forge';
import { loadCredential } from '@x/assertion';
import { report } from '../lib/child.mjs';

report(async ({ side, pfxPath, passphrase }) => {
  const bytes = readFileSync(pfxPath);
  const load =
    side === 'ours'
      ? () => loadCredential({ pfx: bytes, passphrase })
      : async () => {
          const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(bytes.toString('binary')), passphrase);
          const key = p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag })[forge.pki.oids.pkcs8ShroudedKeyBag]?.[0]?.key;
          if (!key) throw new Error('forge found no key');
        };

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
  await load();
  const ms = performance.now() - start;
  await sleep(5); // the probe's tick right after a blocking load records the gap
  clearInterval(probe);
  histogram.disable();
  return { side, ms, maxBlockMs: Math.max(0, maxGap - 1), monitorEventLoopDelayMaxMs: histogram.max / 1e6, idleMaxGapMs };
});
