// What the numbers were measured on.
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';

export function machine() {
  let opensslBinary;
  try {
    opensslBinary = execFileSync('openssl', ['version']).toString().trim();
  } catch {
    opensslBinary = 'not found';
  }
  return {
    node: process.version,
    v8: process.versions.v8,
    openssl: process.versions.openssl,
    opensslBinary,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    os: `${platform()} ${release()}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    loadAverageAtStart: loadavg().map((x) => Number(x.toFixed(2))),
  };
}
