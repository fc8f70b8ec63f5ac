// The summary table: figure | ours | reference | ratio | target | met?
// Ratios are written the way the target is: for rates, ours / reference
// (higher is better); "N× faster" / "N× shorter" = reference time / our time;
// plain ratios of times and sizes, ours / reference (lower is better).

const int = (n) => Math.round(n).toLocaleString('en-US');
const rate = (n) => `${int(n)} /s`;
const ms = (n) => (n >= 100 ? `${int(n)} ms` : `${n.toFixed(n >= 10 ? 1 : 2)} ms`);
const seconds = (n) => `${(n / 1000).toFixed(2)} s`;
const us = (n) => `${n.toFixed(n >= 10 ? 1 : 2)} µs`;
const bytes = (n) => (Math.abs(n) >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`);
const times = (n) => `${n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n >= 2 ? n.toFixed(2) : n.toFixed(3)}×`;
const met = (ok) => (ok ? 'yes' : 'NO');

/** @returns {{ rows: object[], text: string }} */
export function renderTable(results) {
  const f = results.figures;
  const rows = [];
  const row = (figure, ours, reference, ratio, target, ok) => rows.push({ figure, ours, reference, ratio, target, met: ok === undefined ? '—' : met(ok) });

  if (f.signing) {
    const s = f.signing;
    for (const [alg, key] of [['RS256', 'RSA-2048'], ['PS256', 'RSA-2048'], ['ES256', 'P-256']]) {
      row(`${alg} assertions/s, ${key}, serial (signSync)`, rate(s[alg].ours), `raw crypto.sign${alg === 'ES256' ? ' (ieee-p1363)' : ''} ${rate(s[alg].reference)}`,
        times(s[alg].ratio), '≥ 0.95×', s[alg].ratio >= 0.95);
    }
    for (const [alg, o] of [['RS256', s.oneShotRS256], ['PS256', s.oneShot]]) {
      if (o) row(`${alg} one-shot await createClientAssertion, serial`, rate(o.ours), `raw crypto.sign ${rate(o.reference)}`, times(o.ratio), '≥ 0.95×', o.ratio >= 0.95);
    }
    row(`PS256 assertions/s, both cores (sign(), ${s.inFlight} in flight)`, rate(s.bothCores.ours),
      `serial raw crypto.sign ${rate(s.bothCores.reference)} (raw async ×${s.inFlight}: ${times(s.bothCoresCeiling.ratio)})`,
      times(s.bothCores.ratio), '≥ 1.8×', s.bothCores.ratio >= 1.8);
  }
  if (f.pfx) {
    row('PFX load, OpenSSL 3 default (2048 it.)', ms(f.pfx.ours), `node-forge ${ms(f.pfx.reference)}`, `${times(f.pfx.speedup)} faster`, '≥ 5× faster', f.pfx.speedup >= 5);
  }
  if (f['slow-pfx']) {
    const labels = { legacy: 'PFX load, 600,000 it., 3DES key + RC2 certs + SHA-1 MAC', aes: 'PFX load, 600,000 it., AES-256 + PBKDF2 + SHA-256 MAC' };
    for (const [name, label] of Object.entries(labels)) {
      const { ours, openssl, ratio } = f['slow-pfx'][name];
      row(label, seconds(ours.ms), `openssl pkcs12 ${seconds(openssl.ms)}`, times(ratio), '≤ 2×', ratio <= 2);
      row('  longest event-loop block meanwhile', `${ms(ours.maxBlockMs)} (idle loop: ${ms(ours.idleMaxGapMs)})`, '—', '—', '≤ 50 ms', ours.maxBlockMs <= 50);
    }
  }
  if (f.cache) {
    const { ours, msal } = f.cache;
    row('getToken cache hit, p50', us(ours.p50), `MSAL Node ${us(msal.p50)}`, `${times(msal.p50 / ours.p50)} faster`, '≤ 1 µs', ours.p50 <= 1);
    row('getToken cache hit, p99', us(ours.p99), `MSAL Node ${us(msal.p99)}`, `${times(msal.p99 / ours.p99)} faster`, 'report');
  }
  if (f['first-token']) {
    const { ours, msal, ratio } = f['first-token'];
    const detail = (s) => `${ms(s.totalMs)} (import ${ms(s.importMs)})`;
    row('import + first token, fresh process', detail(ours), `MSAL Node ${detail(msal)}`, times(ratio), '≤ 0.5×', ratio <= 0.5);
  }
  if (f.concurrent) {
    const { ours, msal, callers } = f.concurrent;
    const detail = (s) => `${s.tokenRequests} (${s.fulfilled}/${callers} got a token)`;
    row(`${callers} concurrent cold getToken → token requests`, detail(ours), `MSAL Node ${detail(msal)}`, '—', '1', ours.tokenRequests === 1 && ours.fulfilled === callers);
  }
  if (f.memory) {
    const m = f.memory;
    row(`memory: 1 credential + ${int(m.tokens)} cached tokens, heap Δ`, `${bytes(m.heapDeltaBytes)} (marginal ${bytes(m.marginalBytesPerToken)}/token)`,
      `(token strings alone: ${bytes(m.averageTokenChars * m.tokens)})`, '—', 'report');
  }
  if (f.deps) {
    const d = f.deps;
    const detail = (t) => `${t.dependencies} deps, ${bytes(t.totalBytes)}`;
    row('runtime deps + install size: @x/assertion', detail(d['@x/assertion']), `@azure/msal-node ${detail(d['@azure/msal-node'])}`, times(d['@x/assertion'].totalBytes / d['@azure/msal-node'].totalBytes), 'report');
    row('runtime deps + install size: @x/token', detail(d['@x/token']), `@azure/identity ${detail(d['@azure/identity'])}`, times(d['@x/token'].totalBytes / d['@azure/identity'].totalBytes), 'report');
  }
  if (f['cli-startup']) {
    const c = f['cli-startup'];
    row('CLI `thumbprint cert.pem`, whole process', ms(c.cliMs), `bare node -e '' ${ms(c.nodeMs)} (openssl x509: ${times(c.opensslRatio)})`, times(c.ratio), '≤ 1.3×', c.met);
  }

  const m = results.machine;
  const header = ['figure', 'ours', 'reference', 'ratio', 'target', 'met?'];
  const cells = rows.map((r) => [r.figure, r.ours, r.reference, r.ratio, r.target, r.met]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  const text = [
    `Machine: Node ${m.node} (OpenSSL ${m.openssl}), ${m.cpu}, ${m.cores} cores, ${m.os}; load average ${m.loadAverageAtStart.join(' ')} at start, ${(m.loadAverageAtEnd ?? []).join(' ')} at end`,
    '',
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.map(line),
    '',
    `Total: ${results.totalSeconds.toFixed(1)} s. Ratios: rates ours/reference (higher is better); "N× faster/shorter" = reference time / ours; plain ratios of times and sizes ours/reference (lower is better).`,
  ].join('\n');
  return { rows, text };
}
