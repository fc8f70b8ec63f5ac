// getToken on a cache hit, ours vs MSAL Node's acquireTokenByClientCredential,
// in one process against the same HTTPS endpoint (one real token each first).
// Every call is timed alone with process.hrtime.bigint() around the `await`;
// rounds alternate the two, and each round's p50 / p99 / mean are kept.
import * as msal from '@azure/msal-node';
import * as ours from '@x/token';
import { msalApplication, msalGetToken, ourCredential } from '../lib/clients.mjs';
import { report } from '../lib/child.mjs';
import { alternate, mean, median, quantile } from '../lib/stats.mjs';

report(async ({ endpoint, pemPath, scope, rounds, oursCalls, msalCalls }) => {
  const credential = ourCredential(ours, endpoint, pemPath);
  const app = msalApplication(msal, endpoint, pemPath);
  const first = { ours: await credential.getToken(scope), msal: await msalGetToken(app, scope) };
  if (!first.ours.token || !first.msal.accessToken) throw new Error('no first token');

  const sample = (call, n, check) => async () => {
    const ns = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      const result = await call();
      ns[i] = Number(process.hrtime.bigint() - t0);
      if (i === 0) check(result);
    }
    return { p50: quantile(ns, 0.5) / 1000, p99: quantile(ns, 0.99) / 1000, mean: mean(ns) / 1000 };
  };
  const measures = {
    ours: sample(() => credential.getToken(scope), oursCalls, (t) => {
      if (t !== first.ours) throw new Error('ours: not a cache hit');
    }),
    msal: sample(() => msalGetToken(app, scope), msalCalls, (r) => {
      if (!r.fromCache || r.accessToken !== first.msal.accessToken) throw new Error('MSAL: not a cache hit');
    }),
  };
  // The clock itself: two back-to-back hrtime.bigint() reads (not subtracted).
  const clock = new Float64Array(10_000);
  for (let i = 0; i < clock.length; i++) {
    const t0 = process.hrtime.bigint();
    clock[i] = Number(process.hrtime.bigint() - t0);
  }
  await measures.ours(); // warm-up
  await measures.msal();

  const perRound = await alternate(rounds, measures);
  const pick = (side, key) => perRound[side].map((r) => r[key]);
  const summary = (side) => ({ p50: median(pick(side, 'p50')), p99: median(pick(side, 'p99')), mean: median(pick(side, 'mean')) });
  return {
    unit: 'µs per call',
    ours: summary('ours'),
    msal: summary('msal'),
    callsPerRound: { ours: oursCalls, msal: msalCalls },
    clockOverheadNs: quantile(clock, 0.5),
    rounds: perRound,
  };
});
