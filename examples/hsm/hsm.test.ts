/**
 * The HSM example for real: setup-softhsm.sh makes a token in a temp dir,
 * then daemon.mjs (the built packages) gets tokens from a local Entra-shaped
 * server with assertions signed in SoftHSM; once for a fixed count, once
 * stopped by SIGTERM. Both exit 0 and never print a JWT or the PIN.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const run = promisify(execFile);
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const MODULE_PATH = '/usr/lib/softhsm/libsofthsm2.so';
const JWT_SHAPED = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;
const missing = existsSync(MODULE_PATH) ? undefined : `SoftHSM 2 is not installed (${MODULE_PATH}): apt-get install softhsm2 opensc`;

describe.skipIf(missing !== undefined)(`examples/hsm${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let pin: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'x-hsm-example-'));
    const { stdout } = await run('sh', [here('./setup-softhsm.sh'), dir]);
    const exported = Object.fromEntries([...stdout.matchAll(/^export (\w+)='?(.*?)'?$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(Object.keys(exported).sort()).toEqual(['HSM_URI', 'SOFTHSM2_CONF']);
    env = { ...process.env, ...exported };
    pin = (await readFile(join(dir, 'pin'), 'utf8')).trim();
    // The key file is gone: the key is only in the token.
    expect(existsSync(join(dir, 'key.pem')) || existsSync(join(dir, 'key.p8'))).toBe(false);
  }, 60_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const expectClean = (output: string) => {
    expect(output).not.toMatch(JWT_SHAPED);
    expect(output).not.toContain(pin);
  };

  test('three tokens, then exits 0 by itself', async () => {
    const { stdout, stderr } = await run(process.execPath, [here('./daemon.mjs'), '--local', '--count', '3', '--interval', '0.1'], { env, timeout: 60_000 });
    expect(stdout.match(/ token +n=\d+ .*expiresIn=60/g)).toHaveLength(3);
    expect(stdout).toMatch(/ stopped +signal=done/);
    expectClean(stdout + stderr);
  }, 90_000);

  test('SIGTERM: stops cleanly, exit 0', async () => {
    const child = spawn(process.execPath, [here('./daemon.mjs'), '--local', '--interval', '0.2'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 30_000;
    while (!/ token +n=2 /.test(output) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    expect(await exited, output).toBe(0);
    expect(output).toMatch(/ stopped +signal=SIGTERM/);
    expectClean(output);
  }, 60_000);
});
