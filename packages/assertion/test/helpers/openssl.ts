import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and key made by the `openssl` CLI — an independent source of truth for tests. */
export interface OpensslPair {
  readonly dir: string;
  readonly certPath: string;
  readonly keyPath: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** Upper-case hex fingerprints as `openssl x509 -fingerprint` prints them, colons removed. */
  readonly sha1Hex: string;
  readonly sha256Hex: string;
  cleanup(): void;
}

const KEY_ARGS = {
  rsa: ['-newkey', 'rsa:2048'],
  'ec-p256': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'ec-p384': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  'ec-p521': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'],
  ed25519: ['-newkey', 'ed25519'],
} as const;

export function openssl(args: string[], env: Record<string, string> = {}): string {
  return execFileSync('openssl', args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

export function fingerprint(certPath: string, hash: 'sha1' | 'sha256'): string {
  const out = openssl(['x509', '-in', certPath, '-noout', '-fingerprint', `-${hash}`]);
  return out.trim().split('=')[1]!.replaceAll(':', '').toUpperCase();
}

/** Make a self-signed certificate valid for two days with `openssl req -x509`. */
export function makePair(kind: keyof typeof KEY_ARGS = 'rsa', subject = '/CN=x-assertion test'): OpensslPair {
  const dir = mkdtempSync(join(tmpdir(), 'x-assertion-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  openssl(['req', '-x509', ...KEY_ARGS[kind], '-nodes', '-keyout', keyPath, '-out', certPath, '-subj', subject, '-days', '2']);
  return {
    dir,
    certPath,
    keyPath,
    certPem: readFileSync(certPath, 'utf8'),
    keyPem: readFileSync(keyPath, 'utf8'),
    sha1Hex: fingerprint(certPath, 'sha1'),
    sha256Hex: fingerprint(certPath, 'sha256'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const hexToBase64url = (hex: string): string => Buffer.from(hex, 'hex').toString('base64url');
