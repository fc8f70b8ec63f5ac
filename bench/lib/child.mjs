// Runs one figure (or one side of one figure) in a fresh Node process and
// returns what it reports. The child gets its parameters as JSON in argv[2]
// and answers with one `process.send(result)`; see `report` below.
import { fork } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const FIGURES = fileURLToPath(new URL('../figures/', import.meta.url));
let cpuProfileDir;
let profiles = 0;

/** Every child started from now on writes a CPU profile into `dir` (node --cpu-prof). */
export function setCpuProfileDir(dir) {
  cpuProfileDir = resolve(dir);
}

/**
 * @param {string} script - file name under bench/figures/
 * @param {object} params - JSON-serializable parameters (argv[2])
 * @param {{ env?: Record<string,string>, execArgv?: string[], timeoutMs?: number }} [options]
 * @returns {Promise<any>} the child's report, plus `wallMs` (spawn to report)
 */
export function runChild(script, params, { env = {}, execArgv = [], timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    if (cpuProfileDir !== undefined) {
      const name = `${String(++profiles).padStart(2, '0')}-${script.replace('.mjs', '')}${params.side ? `-${params.side}` : ''}.cpuprofile`;
      execArgv = [...execArgv, '--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`, `--cpu-prof-name=${name}`];
    }
    const child = fork(FIGURES + script, [JSON.stringify(params)], {
      env: { ...process.env, ...env },
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('message', (message) => {
      result = { ...message, wallMs: performance.now() - started };
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result?.error) reject(new Error(`${script}: ${result.error}`));
      else if (result !== undefined) resolve(result);
      else reject(new Error(`${script} ${JSON.stringify(params.side ?? '')} exited (${signal ?? code}) without a report`));
    });
  });
}

/**
 * In a child: reads the parameters, runs `main`, sends its result (or the
 * error) to the parent and exits (open keep-alive sockets must not keep it up).
 */
export async function report(main) {
  const params = JSON.parse(process.argv[2] ?? '{}');
  let message;
  try {
    message = await main(params);
  } catch (error) {
    message = { error: `${error?.code ?? error?.name ?? 'Error'}: ${error?.message ?? error}${error?.cause ? ` (cause: ${error.cause.message ?? error.cause})` : ''}` };
  }
  process.send(message, () => process.exit(0));
}
