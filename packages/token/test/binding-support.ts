/**
 * Certificates for the binding tests, made by the `openssl` CLI — an
 * independent source for the `x5t#S256` the servers bind tokens to.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const run = promisify(execFile);

export interface TestCertificate {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  /** base64url(SHA-256(DER)), the digest computed by `openssl dgst`. */
  readonly x5tS256: string;
}

const KEYS = { rsa: ['-newkey', 'rsa:2048'], ec: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] } as const;

/** A self-signed certificate `name` in `dir`, valid two days; `extra` goes to `openssl req` (e.g. `-addext`). */
export async function makeCertificate(dir: string, name: string, extra: readonly string[] = [], key: keyof typeof KEYS = 'rsa'): Promise<TestCertificate> {
  await run('openssl', ['req', '-x509', ...KEYS[key], '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`), '-subj', `/CN=${name}`, '-days', '2', ...extra]);
  return readCertificate(dir, name);
}

/** A certificate `CN=name` issued by `ca` (a CA made by {@link makeCertificate} in `dir`), for `tls_client_auth`. */
export async function makeIssuedCertificate(dir: string, name: string, ca: string): Promise<TestCertificate> {
  const file = (ext: string) => join(dir, `${name}.${ext}`);
  await run('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('key'), '-out', file('csr'), '-subj', `/CN=${name}`]);
  await run('openssl', ['x509', '-req', '-in', file('csr'), '-CA', join(dir, `${ca}.crt`), '-CAkey', join(dir, `${ca}.key`), '-out', file('crt'), '-days', '2']);
  return readCertificate(dir, name);
}

async function readCertificate(dir: string, name: string): Promise<TestCertificate> {
  const certPath = join(dir, `${name}.crt`);
  const { stdout } = await run('sh', ['-c', `openssl x509 -in '${certPath}' -outform DER | openssl dgst -sha256 -binary | openssl base64 -A`]);
  return {
    certificatePem: await readFile(certPath, 'utf8'),
    privateKeyPem: await readFile(join(dir, `${name}.key`), 'utf8'),
    x5tS256: Buffer.from(stdout.trim(), 'base64').toString('base64url'),
  };
}
