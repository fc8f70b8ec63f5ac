/**
 * Test support: one real world per test file — a certificate made with
 * `openssl req -x509`, the devserver's Entra-shaped token endpoint (it counts
 * requests) and a redis-server of our own — and worker configs for it.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startEntraServer, type EntraServer } from '@x/devserver';
// @ts-expect-error: plain JavaScript, shared with the example and the benchmark
import { startRedis, startWorkers } from '../../../examples/fleet/fleet-lib.mjs';

export { startRedis, startWorkers };

export const TENANT = 'fleet-tenant';
export const CLIENT = 'fleet-client';
export const FAST_RETRY = { maxAttempts: 2, initialDelayMs: 20, maxDelayMs: 50, maxElapsedMs: 5_000 };
export const JWT_SHAPED = /eyJ[\w-]{8,}/;

export interface Redis {
  url: string;
  port: number;
  pid: number;
  signal(sig: NodeJS.Signals): void;
  stop(): Promise<void>;
  restart(): Promise<Redis>;
}
export interface Worker {
  pid: number;
  send(command: Record<string, unknown>): Promise<WorkerAnswer>;
  kill(sig?: NodeJS.Signals): void;
  stop(): Promise<void>;
  exited: Promise<unknown>;
  stderr(): string;
}
export interface WorkerAnswer {
  calls: number;
  ok: number;
  failed: number;
  codes: string[];
  hashes: string[];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  events: Record<string, number>;
}

export interface World {
  entra: EntraServer;
  certificatePath: string;
  keyPath: string;
  certificatePem: string;
  encryptionKeyHex: string;
  /** A worker config for `scope` against `redisUrl`. */
  config(redisUrl: string, scope: string, extra?: Record<string, unknown>): Record<string, unknown>;
  /** Token requests the server saw for `scope`. */
  requests(scope: string): number;
  close(): Promise<void>;
}

/** A unique `.default` scope, so each test counts its own requests. */
export function scopeFor(name: string): string {
  return `api://${name}-${randomBytes(3).toString('hex')}/.default`;
}

export async function world(options: { tokenLifetimeSeconds?: number; refreshInSeconds?: number } = {}): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'x-token-redis-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-subj', `/CN=${CLIENT}`, '-days', '2']);
  const certificatePem = await readFile(certPath, 'utf8');
  const entra = await startEntraServer({ tenantId: TENANT, clients: [{ clientId: CLIENT, certificates: [certificatePem] }], ...options });
  const encryptionKeyHex = randomBytes(32).toString('hex');
  return {
    entra,
    certificatePath: certPath,
    keyPath,
    certificatePem,
    encryptionKeyHex,
    config: (redisUrl, scope, extra = {}) => ({
      redisUrl,
      scope,
      tenantId: TENANT,
      clientId: CLIENT,
      certificate: { certificatePath: certPath, keyPath },
      authorityHost: entra.url,
      tokenEndpoint: entra.tokenEndpoint('v2'),
      retry: FAST_RETRY,
      encryptionKeyHex,
      // Wide bounds (busy 2-core machine): a slow answer must not count as a Redis failure here.
      store: { commandTimeoutMs: 5_000, connectTimeoutMs: 10_000, retryAfterMs: 1_000, lockTtlMs: 5_000 },
      ...extra,
    }),
    requests: (scope) => entra.requests.filter((r) => r.form.scope === scope).length,
    async close() {
      await entra.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
