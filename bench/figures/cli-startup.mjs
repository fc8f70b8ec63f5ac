// CLI cold start: `x-assertion thumbprint cert.pem` as a whole process against
// a bare `node -e ''` process (and `openssl x509 -fingerprint` for scale),
// alternating in one run, the order flipping each round. Wall time from spawn
// to exit, measured here in the parent of all three so each pays the same
// spawn cost; the ratio is the median of the per-round ratios.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { report } from '../lib/child.mjs';
import { median } from '../lib/stats.mjs';

const BIN = fileURLToPath(new URL('../../packages/cli/bin/x-assertion.js', import.meta.url));

/** Runs one process to its end; returns its wall time in milliseconds (throws when it fails). */
function timed(command, args) {
  const t = performance.now();
  const r = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

report(async ({ certPath, rounds }) => {
  const sides = {
    cli: () => timed(process.execPath, [BIN, 'thumbprint', certPath]),
    node: () => timed(process.execPath, ['-e', '']),
    openssl: () => timed('openssl', ['x509', '-in', certPath, '-noout', '-fingerprint', '-sha256']),
  };
  for (const run of Object.values(sides)) run(); // warm the file cache once
  const runs = { cli: [], node: [], openssl: [] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? ['openssl', 'node', 'cli'] : ['cli', 'node', 'openssl'];
    for (const side of order) runs[side].push(sides[side]());
  }
  const perRound = (side) => median(runs[side].map((ms, i) => ms / runs.node[i]));
  return {
    cliMs: median(runs.cli),
    nodeMs: median(runs.node),
    opensslMs: median(runs.openssl),
    ratio: perRound('cli'),
    opensslRatio: perRound('openssl'),
    target: 1.3,
    met: perRound('cli') <= 1.3,
    runs,
  };
});
