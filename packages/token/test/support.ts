/**
 * Test support: RSA-2048 certificates made with `openssl req -x509` in a
 * temporary directory, and small helpers for timing and events.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect, promisify } from 'node:util';
import { expect } from 'vitest';
import type { TokenEvent } from '../src/index.js';

const run = promisify(execFile);

/** A self-signed certificate and its key, as files and as text. */
export interface TestCertificate {
  /** Certificate then key, one PEM file. */
  readonly bundlePath: string;
  readonly certPath: string;
  readonly keyPath: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** Certificate and key concatenated. */
  readonly bundlePem: string;
}

/** A temporary directory with certificates; `remove()` it in `afterAll`. */
export interface CertificateDir {
  readonly path: string;
  make(name: string): Promise<TestCertificate>;
  /** A PFX (OpenSSL 3 defaults: PBES2/AES-256, SHA-256 MAC) of `certificate`, protected by `passphrase`. */
  pfx(certificate: TestCertificate, passphrase: string): Promise<{ path: string; bytes: Uint8Array }>;
  remove(): Promise<void>;
}

export async function certificateDir(): Promise<CertificateDir> {
  const path = await mkdtemp(join(tmpdir(), 'x-token-test-'));
  return {
    path,
    async make(name) {
      const keyPath = join(path, `${name}.key.pem`);
      const certPath = join(path, `${name}.cert.pem`);
      await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-subj', `/CN=${name}`, '-days', '2']);
      const [certPem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
      const bundlePath = join(path, `${name}.pem`);
      const bundlePem = certPem + keyPem;
      await writeFile(bundlePath, bundlePem);
      return { bundlePath, certPath, keyPath, certPem, keyPem, bundlePem };
    },
    async pfx(certificate, passphrase) {
      const pfxPath = `${certificate.certPath}.pfx`;
      await run('openssl', ['pkcs12', '-export', '-in', certificate.certPath, '-inkey', certificate.keyPath, '-out', pfxPath, '-passout', `pass:${passphrase}`]);
      return { path: pfxPath, bytes: new Uint8Array(await readFile(pfxPath)) };
    },
    remove: () => rm(path, { recursive: true, force: true }),
  };
}

/** A logger that keeps every event. */
export function recordEvents(): { events: TokenEvent[]; logger: (e: TokenEvent) => void } {
  const events: TokenEvent[] = [];
  return { events, logger: (e) => events.push(e) };
}

/** Small, fast retries for tests. */
export const FAST_RETRY = { maxAttempts: 4, initialDelayMs: 20, maxDelayMs: 100, maxElapsedMs: 5_000 } as const;

/**
 * Assert that no JWT (a client assertion, an access token) and none of the
 * given secrets appears in `values` as `util.inspect` (hidden members and
 * `cause` chains included) or `JSON.stringify` show them.
 */
export function expectNoSecrets(values: unknown, secrets: readonly string[] = []): void {
  const text = `${inspect(values, { depth: 20, showHidden: true })}\n${JSON.stringify(values) ?? ''}`;
  expect(text).not.toMatch(/eyJ[\w-]{8,}/);
  for (const secret of secrets) expect(text).not.toContain(secret);
}
