// Small statistics helpers. Every comparison is measured in rounds that
// alternate ours and the reference (the order flips each round, so neither
// side always runs first; throughput figures go further and take turns every
// few milliseconds inside a round, see `interleave`); figures are medians over
// the rounds, and a ratio is the median of the per-round ratios (each pair
// measured side by side in time, which cancels most of the noise of a shared
// machine).

/** The median of numbers (mean of the two middle ones for an even count). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The `q` quantile (0..1) of numbers, nearest-rank. */
export function quantile(values, q) {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** The arithmetic mean. */
export function mean(values) {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/**
 * Runs `rounds` rounds; each round calls every measure in `measures` once
 * (order reversed on odd rounds) and records what it returns.
 *
 * @template T
 * @param {number} rounds
 * @param {Record<string, () => T | Promise<T>>} measures
 * @returns {Promise<Record<string, T[]>>} the values per measure, in round order
 */
export async function alternate(rounds, measures) {
  const names = Object.keys(measures);
  const out = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? [...names].reverse() : names;
    for (const name of order) out[name].push(await measures[name]());
  }
  return out;
}

/** Per-round ratios a[i] / b[i]. */
export function ratios(a, b) {
  return a.map((x, i) => x / b[i]);
}

/**
 * A measure that runs for about `ms` milliseconds and says how many
 * operations it completed in how much wall time.
 *
 * @typedef {(ms: number) => Promise<{ ops: number, ms: number }>} Slice
 */

/** A {@link Slice} of a synchronous function, called back to back. */
export function syncSlice(fn) {
  return async (ms) => {
    let ops = 0;
    const start = performance.now();
    const end = start + ms;
    let now = start;
    while (now < end) {
      // Batches of 4 keep the clock reads out of the way.
      fn(); fn(); fn(); fn();
      ops += 4;
      now = performance.now();
    }
    return { ops, ms: now - start };
  };
}

/** A {@link Slice} of an async function, one call at a time. */
export function serialSlice(fn) {
  return async (ms) => {
    let ops = 0;
    const start = performance.now();
    const end = start + ms;
    let now = start;
    while (now < end) {
      await fn();
      ops++;
      now = performance.now();
    }
    return { ops, ms: now - start };
  };
}

/** A {@link Slice} of an async function with `inFlight` calls kept running (the slice ends when the last one does). */
export function concurrentSlice(fn, inFlight) {
  return async (ms) => {
    let ops = 0;
    const start = performance.now();
    const end = start + ms;
    const lane = async () => {
      while (performance.now() < end) {
        await fn();
        ops++;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    return { ops, ms: performance.now() - start };
  };
}

/**
 * One round of a throughput comparison on a shared machine: the slices take
 * turns in short chunks (`chunkMs`, order flipped every turn) until each has
 * run about `totalMs`, so every side sees the same background load. Returns
 * operations per second per slice, of wall time and of process CPU time.
 *
 * @param {Record<string, Slice>} slices
 */
export async function interleave(slices, totalMs, chunkMs) {
  const names = Object.keys(slices);
  const sum = Object.fromEntries(names.map((n) => [n, { ops: 0, ms: 0, cpuMs: 0 }]));
  for (let turn = 0; turn * chunkMs < totalMs; turn++) {
    for (const name of turn % 2 ? [...names].reverse() : names) {
      const cpu = process.cpuUsage();
      const { ops, ms } = await slices[name](chunkMs);
      const used = process.cpuUsage(cpu);
      sum[name].ops += ops;
      sum[name].ms += ms;
      sum[name].cpuMs += (used.user + used.system) / 1000;
    }
  }
  return Object.fromEntries(names.map((n) => [n, { wall: (sum[n].ops * 1000) / sum[n].ms, cpu: (sum[n].ops * 1000) / sum[n].cpuMs }]));
}
