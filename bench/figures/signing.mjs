// Assertions per second, RSA-2048 (RS256, PS256) and EC P-256 (ES256), each
// against raw `crypto.sign` on the very same KeyObject and the same signing
// input, in alternating time slices; plus the one-shot
// `await createClientAssertion(credential, options)` with a new options object
// per call, as @x/token makes it (RS256 and PS256, target ≥ 0.95× raw
// synchronous crypto.sign, issue 12), and async `sign()` with many calls in
// flight (both cores).
import { constants, sign } from 'node:crypto';
import { createClientAssertion, loadCredentialFile, prepareClientAssertion } from '@x/assertion';
import { report } from '../lib/child.mjs';
import { concurrentSlice, interleave, median, ratios, serialSlice, syncSlice } from '../lib/stats.mjs';

report(async ({ rsaPem, ecCert, ecKey, rounds, sliceMs, inFlight }) => {
  const rsa = await loadCredentialFile(rsaPem);
  const ec = await loadCredentialFile(ecCert, { keyPath: ecKey });
  const options = { clientId: 'bench-client', audience: 'https://login.microsoftonline.com/bench-tenant/oauth2/v2.0/token' };
  const prepared = {
    RS256: prepareClientAssertion(rsa, { ...options, algorithm: 'RS256' }),
    PS256: prepareClientAssertion(rsa, { ...options, algorithm: 'PS256' }),
    ES256: prepareClientAssertion(ec, { ...options, algorithm: 'ES256' }),
  };
  // Raw: the signature alone, over a signing input of the same length as ours.
  const input = (alg) => Buffer.from(prepared[alg].signSync().split('.').slice(0, 2).join('.'));
  const raw = {
    RS256: ((data) => () => sign('sha256', data, rsa.privateKey))(input('RS256')),
    PS256: ((data, key) => () => sign('sha256', data, key))(input('PS256'), {
      key: rsa.privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    }),
    ES256: ((data, key) => () => sign('sha256', data, key))(input('ES256'), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }),
  };
  const oneShot = (algorithm) => () => createClientAssertion(rsa, { ...options, algorithm });
  // Each comparison: [ours, reference, chunk ms]. Serial slices take turns every
  // 5 ms; the concurrent one needs longer turns (its pipeline fills and drains).
  const comparisons = {
    RS256: [syncSlice(prepared.RS256.signSync), syncSlice(raw.RS256), 5],
    PS256: [syncSlice(prepared.PS256.signSync), syncSlice(raw.PS256), 5],
    ES256: [syncSlice(prepared.ES256.signSync), syncSlice(raw.ES256), 5],
    oneShotRS256: [serialSlice(oneShot('RS256')), syncSlice(raw.RS256), 5],
    oneShot: [serialSlice(oneShot('PS256')), syncSlice(raw.PS256), 5],
    bothCores: [concurrentSlice(prepared.PS256.sign, inFlight), syncSlice(raw.PS256), 100],
  };
  // What this machine allows right now: raw async crypto.sign with as many in
  // flight, measured in the same turns as bothCores (not a target, a ceiling).
  const rawAsync = ((data, key) => () => new Promise((resolve, reject) => sign('sha256', data, key, (e, s) => (e ? reject(e) : resolve(s)))))(
    input('PS256'),
    { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
  );
  const ceiling = concurrentSlice(rawAsync, inFlight);
  const run = (name, ours, reference, chunkMs, ms) => interleave(name === 'bothCores' ? { ours, reference, ceiling } : { ours, reference }, ms, chunkMs);
  // Warm-up (JIT, thread pool), not recorded.
  for (const [name, [ours, reference, chunkMs]] of Object.entries(comparisons)) await run(name, ours, reference, chunkMs, 100);

  const perRound = Object.fromEntries(Object.keys(comparisons).map((name) => [name, { ours: [], reference: [], cpuRatio: [] }]));
  const ceilingRounds = [];
  for (let round = 0; round < rounds; round++) {
    for (const [name, [ours, reference, chunkMs]] of Object.entries(comparisons)) {
      const rates = await run(name, ours, reference, chunkMs, sliceMs);
      perRound[name].ours.push(rates.ours.wall);
      perRound[name].reference.push(rates.reference.wall);
      perRound[name].cpuRatio.push(rates.ours.cpu / rates.reference.cpu);
      if (rates.ceiling !== undefined) ceilingRounds.push(rates.ceiling.wall);
    }
  }
  const summary = ({ ours, reference, cpuRatio }) => ({
    ours: median(ours),
    reference: median(reference),
    ratio: median(ratios(ours, reference)),
    // The same ratio per CPU-second of the process (all its threads): immune
    // to time the process spent descheduled; meaningless for bothCores.
    cpuRatio: median(cpuRatio),
    rounds: { ours, reference, ratio: ratios(ours, reference), cpuRatio },
  });
  return {
    unit: 'assertions/s',
    sliceMs,
    inFlight,
    threadPoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    ...Object.fromEntries(Object.entries(perRound).map(([name, r]) => [name, summary(r)])),
    bothCoresCeiling: {
      what: `raw async crypto.sign, ${inFlight} in flight, / serial raw`,
      rate: median(ceilingRounds),
      ratio: median(ratios(ceilingRounds, perRound.bothCores.reference)),
      oursVsCeiling: median(ratios(perRound.bothCores.ours, ceilingRounds)),
      rounds: ceilingRounds,
    },
  };
});
