// The parts of a fleet, for fleet.mjs, the tests and the fleet benchmark:
// a redis-server of our own on 127.0.0.1 (free port, no persistence), stopped
// by its PID, and worker processes (worker.mjs) driven over stdin/stdout.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./worker.mjs', import.meta.url));

/** A port the OS says is free now. */
export async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * Starts `redis-server` on 127.0.0.1:`port` (a free one by default) and waits
 * until it accepts connections. `password` sets `requirepass`.
 *
 * @returns {{ url, port, pid, process, signal(sig), stop(), restart() }}
 */
export async function startRedis({ port, password } = {}) {
  const chosen = port ?? (await freePort());
  const args = ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];
  if (password !== undefined) args.push('--requirepass', password);
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.setEncoding('utf8');
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${log}`)), 20_000);
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${log}`)));
    child.stdout.on('data', (d) => {
      log += d;
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.removeAllListeners('exit');
  const exited = new Promise((r) => child.once('exit', r));
  const auth = password === undefined ? '' : `:${encodeURIComponent(password)}@`;
  return {
    url: `redis://${auth}127.0.0.1:${chosen}`,
    port: chosen,
    pid: child.pid,
    signal: (sig) => process.kill(child.pid, sig),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid, 'SIGKILL');
        await exited;
      }
    },
    /** Stops this server and starts an empty one on the same port. */
    restart: async function () {
      await this.stop();
      return startRedis({ port: chosen, password });
    },
  };
}

/**
 * Starts one worker.mjs process. `config` is its JSON argument (see worker.mjs).
 *
 * @returns {{ pid, send(command), kill(sig), exited }}
 */
export function startWorker(config, env = process.env) {
  const child = spawn(process.execPath, [WORKER, JSON.stringify(config)], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const pending = new Map();
  let next = 0;
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  exited.then(() => {
    for (const { reject } of pending.values()) reject(new Error(`worker ${child.pid} exited\n${stderr}`));
    pending.clear();
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const answer = JSON.parse(line);
    pending.get(answer.id)?.resolve(answer);
    pending.delete(answer.id);
  });
  return {
    pid: child.pid,
    exited,
    stderr: () => stderr,
    send(command) {
      const id = ++next;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.stdin.write(`${JSON.stringify({ id, ...command })}\n`);
      });
    },
    kill: (sig = 'SIGKILL') => child.kill(sig),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await this.send({ cmd: 'exit' }).catch(() => {});
      await exited;
    },
  };
}

/** `n` workers with one config, ready (each has loaded its modules). */
export async function startWorkers(n, config, env) {
  const workers = Array.from({ length: n }, () => startWorker(config, env));
  await Promise.all(workers.map((w) => w.send({ cmd: 'ping' })));
  return workers;
}
