/**
 * The daemon example, run for real as a subprocess (`node daemon.mjs`, which
 * imports the built packages): a few seconds against local servers with
 * tokens due for refresh after 1 s, then a signal. It must exit 0, have
 * refreshed at least once, and never print a token, an assertion or the
 * passphrase.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEntraServer, startResourceServer } from '@x/devserver';
import { makeSelfSignedPfx } from '@x/examples-shared';
import { afterAll, describe, expect, test } from 'vitest';

const DAEMON = fileURLToPath(new URL('./daemon.mjs', import.meta.url));
const JWT_SHAPED = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;
const running = new Set<ChildProcess>();
const cleanups: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const child of running) child.kill('SIGKILL');
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** The environment without the host's AZURE_* / DAEMON_* settings, plus `extra`. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AZURE_|DAEMON_|NODE_OPTIONS$)/.test(k)));
  return { ...env, ...extra };
}

function startDaemon(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [DAEMON, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out.stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, out, exited };
}

async function until(condition: () => boolean, timeoutMs: number, what: string, out: { stdout: string; stderr: string }) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- stdout\n${out.stdout}\n--- stderr\n${out.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.concurrent('examples/daemon', () => {
  test('--local: refreshes ahead of expiry, stops cleanly on SIGTERM, logs no secret', async () => {
    const passphrase = `pp-${randomBytes(12).toString('hex')}`; // the local PFX's passphrase: must never be logged
    const daemon = startDaemon(['--local', '--interval', '0.3', '--token-lifetime', '40', '--refresh-in', '1'], cleanEnv({ AZURE_CLIENT_CERTIFICATE_PASSWORD: passphrase }));
    const lines = () => daemon.out.stdout.split('\n');
    // A refresh, its new token, and an API call served after it.
    const refreshedAndUsed = () => {
      const all = lines();
      const refresh = all.findIndex((l) => /\brefresh +.*reason=due/.test(l));
      const token = all.findIndex((l, i) => i > refresh && / token +scope=/.test(l));
      return refresh >= 0 && token > refresh && all.some((l, i) => i > token && / api +call=\d+ status=200/.test(l));
    };
    await until(refreshedAndUsed, 15_000, 'a refresh', daemon.out);
    daemon.child.kill('SIGTERM');
    const { code, signal } = await daemon.exited;
    const output = daemon.out.stdout + daemon.out.stderr;

    expect({ code, signal }, output).toEqual({ code: 0, signal: null });
    expect(daemon.out.stdout).toMatch(/ stopping +signal=SIGTERM/);
    const stopped = /stopped +signal=SIGTERM calls=(\d+) ok=(\d+) failed=(\d+) tokens=(\d+) refreshes=(\d+)/.exec(daemon.out.stdout);
    expect(stopped, output).not.toBeNull();
    const [, calls, ok, failed, tokens, refreshes] = stopped!.map(Number);
    expect(failed).toBe(0);
    expect(ok).toBeGreaterThanOrEqual(calls! - 1); // the call in flight at the signal may be aborted
    expect(tokens).toBeGreaterThanOrEqual(2);
    expect(refreshes).toBeGreaterThanOrEqual(1);
    expect(output).not.toContain(passphrase);
    expect(output).not.toMatch(JWT_SHAPED); // every token and assertion is a JWT
    expect(output).not.toContain('[redacted'); // nothing even needed the daemon's last-resort redaction
    expect(daemon.out.stderr).toBe('');
  });

  test('for real (AZURE_* environment) against test-owned servers: SIGINT, JSON logs, none of the secrets the servers saw', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'x-daemon-test-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const passphrase = `pp-${randomBytes(12).toString('hex')}`;
    const made = makeSelfSignedPfx({ commonName: 'daemon-test', passphrase });
    const certificatePath = join(dir, 'app.pfx');
    await writeFile(certificatePath, made.pfx);
    const entra = await startEntraServer({
      tenantId: 'daemon-test-tenant',
      clients: [{ clientId: 'daemon-test-client', certificates: [made.certificatePem] }],
      tokenLifetimeSeconds: 40,
      refreshInSeconds: 1,
    });
    cleanups.push(() => entra.close());
    const api = await startResourceServer({ issuer: entra.issuer('v2'), jwksUri: entra.jwksUri, audience: 'https://api.example.test' });
    cleanups.push(() => api.close());

    const daemon = startDaemon(
      [],
      cleanEnv({
        AZURE_TENANT_ID: 'daemon-test-tenant',
        AZURE_CLIENT_ID: 'daemon-test-client',
        AZURE_CLIENT_CERTIFICATE_PATH: certificatePath,
        AZURE_CLIENT_CERTIFICATE_PASSWORD: passphrase,
        AZURE_AUTHORITY_HOST: entra.url,
        DAEMON_API_URL: `${api.url}/me`,
        DAEMON_SCOPE: 'https://api.example.test/.default',
        DAEMON_INTERVAL_SECONDS: '0.3',
        DAEMON_LOG_FORMAT: 'json',
      }),
    );
    const events = () =>
      daemon.out.stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    await until(
      () => {
        const all = events();
        const refresh = all.findIndex((e) => e['event'] === 'refresh');
        return refresh >= 0 && all.some((e, i) => i > refresh && e['event'] === 'api' && e['status'] === 200) && entra.issued.length >= 2;
      },
      15_000,
      'a refresh',
      daemon.out,
    );
    daemon.child.kill('SIGINT');
    const { code, signal } = await daemon.exited;
    const output = daemon.out.stdout + daemon.out.stderr;

    expect({ code, signal }, output).toEqual({ code: 0, signal: null });
    const all = events(); // every stdout line is one JSON object
    expect(all[0]).toMatchObject({ event: 'start', mode: 'azure', clientId: 'daemon-test-client', certificate: certificatePath });
    expect(all.at(-1)).toMatchObject({ event: 'stopped', signal: 'SIGINT', failed: 0 });
    expect(all.filter((e) => e['event'] === 'refresh').length).toBeGreaterThanOrEqual(1);
    expect(all.filter((e) => e['event'] === 'token').length).toBe(entra.issued.length);

    // Every secret the token endpoint saw or handed out, whole or its signature alone, is absent.
    const secrets = [
      passphrase,
      ...entra.issued.map((i) => i.token),
      ...entra.requests.map((r) => r.form['client_assertion']!),
    ];
    expect(entra.requests.length).toBeGreaterThanOrEqual(2);
    for (const secret of secrets) {
      expect(output).not.toContain(secret);
      const signature = secret.split('.')[2];
      if (signature) expect(output).not.toContain(signature);
    }
    expect(output).not.toMatch(JWT_SHAPED);
    expect(output).not.toContain('[redacted');
    // Each token request was signed with the configured certificate.
    for (const request of entra.requests) expect(request.assertion?.header['x5t#S256']).toBeTypeOf('string');
  });

  test('a certificate that cannot be loaded (wrong passphrase): fails fast with exit 1, the passphrase not logged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'x-daemon-test-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const certificatePath = join(dir, 'app.pfx');
    await writeFile(certificatePath, makeSelfSignedPfx({ commonName: 'daemon-test', passphrase: 'the-right-one' }).pfx);
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    const daemon = startDaemon(
      [],
      cleanEnv({
        AZURE_TENANT_ID: 'daemon-test-tenant',
        AZURE_CLIENT_ID: 'daemon-test-client',
        AZURE_CLIENT_CERTIFICATE_PATH: certificatePath,
        AZURE_CLIENT_CERTIFICATE_PASSWORD: wrong,
        AZURE_AUTHORITY_HOST: 'http://127.0.0.1:9', // never reached: the certificate fails first
      }),
    );
    const { code } = await daemon.exited;
    const output = daemon.out.stdout + daemon.out.stderr;
    expect(code, output).toBe(1);
    expect(daemon.out.stderr).toMatch(/api-failed +call=1 code=ERR_BAD_PASSPHRASE/);
    expect(daemon.out.stderr).toMatch(/certificate-unusable/);
    expect(output).not.toContain(wrong);
  });
});
