/**
 * Sentinel secrets for the hygiene suites (hardening issue, part 4): a random
 * passphrase, the private key's PEM body lines and JWK `d`/`p`/`q`/…, a
 * client secret, an access token and a signed assertion with its signature
 * segment — and a scanner that asserts none of them appears in a text,
 * counting every check.
 *
 * The key is the RSA key of the fixture matrix (`.fixtures/pem-pkcs8-rsa.pem`,
 * shared by most fixtures), so its material is a sentinel for every fixture
 * made from it; {@link writeEncryptedVariants} re-encrypts it under the
 * random passphrase in each format openssl writes.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { inspect, promisify } from 'node:util';
import { expect } from 'vitest';
import { fixturesDir } from '../setup/fixtures.js';

const hex = () => randomBytes(6).toString('hex');

/** The fixture files the sentinel key comes from. */
export const KEY_BUNDLE = path.join(fixturesDir, 'pem-pkcs8-rsa.pem');

export interface Sentinels {
  /** The passphrase of every file {@link writeEncryptedVariants} writes. */
  readonly passphrase: string;
  /** A wrong passphrase, as carefully kept out of output as the right one. */
  readonly wrong: string;
  readonly clientSecret: string;
  /** An opaque access token, and a JWT-shaped one. */
  readonly accessToken: string;
  readonly accessTokenJwt: string;
  /** The plain key PEM (PKCS#8) and certificate of the sentinel key. */
  readonly keyPem: string;
  readonly certPem: string;
  /** Every secret string, by name (key material: each base64 body line, PKCS#8 and PKCS#1, and the JWK's private members). */
  readonly all: ReadonlyMap<string, string>;
  /** Add a secret found later (a generated assertion, a token issued by a test server). */
  add(name: string, value: string): void;
}

export function makeSentinels(): Sentinels {
  const bundle = readFileSync(KEY_BUNDLE, 'utf8');
  const keyPem = bundle.match(/-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----\n/)![0];
  const certPem = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/)![0];
  const key = createPrivateKey(keyPem);
  const pkcs1 = key.export({ format: 'pem', type: 'pkcs1' }).toString();
  const jwk = key.export({ format: 'jwk' });
  const all = new Map<string, string>();
  const s: Sentinels = {
    passphrase: `S3NT1NEL-pass-${hex()}`,
    wrong: `S3NT1NEL-pass-${hex()}-wrong`,
    clientSecret: `S3NT1NEL-secret-${hex()}~${hex()}`,
    accessToken: `S3NT1NEL-token-${hex()}`,
    accessTokenJwt: `${Buffer.from('{"alg":"RS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(`{"sentinel":"${hex()}"}`).toString('base64url')}.${randomBytes(64).toString('base64url')}`,
    keyPem,
    certPem,
    all,
    add: (name, value) => void all.set(name, value),
  };
  s.add('passphrase', s.passphrase);
  s.add('wrong passphrase', s.wrong);
  s.add('client secret', s.clientSecret);
  s.add('access token', s.accessToken);
  s.add('access token (JWT)', s.accessTokenJwt);
  // The PEM body lines that encode private material: the first lines of an
  // RSA key encode its public modulus (which every certificate, JWK and x5c
  // carries too), so a line counts from the first one that starts at or after
  // the private exponent d.
  const d = Buffer.from(jwk.d!, 'base64url');
  for (const [label, text] of [['PKCS#8', keyPem], ['PKCS#1', pkcs1]] as const) {
    const lines = text.split('\n').filter((line) => line.length > 0 && !line.startsWith('-----'));
    const der = Buffer.from(lines.join(''), 'base64');
    const privateFrom = der.indexOf(d);
    expect(privateFrom).toBeGreaterThan(0);
    lines.forEach((line, i) => {
      if (i * 48 >= privateFrom && line.length >= 16) s.add(`key PEM ${label} line ${i + 1}`, line);
    });
  }
  for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const) s.add(`JWK ${member}`, jwk[member]!);
  return s;
}

/** Add a signed assertion and its signature segment. */
export function addAssertion(s: Sentinels, name: string, jwt: string): void {
  s.add(`${name} (compact JWS)`, jwt);
  s.add(`${name} (signature segment)`, jwt.split('.')[2]!);
}

/** Counts every sentinel check. */
export class Scanner {
  checks = 0;
  constructor(readonly sentinels: Sentinels) {}

  /** Assert that no sentinel (but those in `allowed`) occurs in `text`. */
  expectClean(label: string, text: string, allowed: readonly string[] = []): void {
    for (const [name, value] of this.sentinels.all) {
      if (allowed.includes(name)) continue;
      this.checks++;
      if (text.includes(value)) {
        const at = text.indexOf(value);
        expect.fail(`${label}: the ${name} appears in the output: …${text.slice(Math.max(0, at - 80), at)}[${name}]…`);
      }
    }
  }

  /** No JWT-shaped string at all (the assertion a command signed and sent is not known to the test). */
  expectNoJwt(label: string, text: string): void {
    this.checks++;
    const jwt = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/.exec(text);
    expect(jwt?.[0], `${label}: a JWT appears in the output`).toBeUndefined();
  }

  /**
   * An error, thoroughly: message, stack, every `cause` (walked), own
   * properties, `util.inspect` (hidden members too) and `JSON.stringify`.
   */
  expectCleanError(label: string, error: unknown, allowed: readonly string[] = []): void {
    const seen = new Set<unknown>();
    let current: unknown = error;
    for (let depth = 0; current !== undefined && current !== null && !seen.has(current) && depth < 20; depth++) {
      seen.add(current);
      const e = current as Error & Record<string, unknown>;
      this.expectClean(`${label} cause[${depth}].message`, String(e.message ?? e), allowed);
      this.expectClean(`${label} cause[${depth}].stack`, String(e.stack ?? ''), allowed);
      for (const key of Object.getOwnPropertyNames(e)) {
        const value = e[key];
        if (key !== 'cause' && key !== 'message' && key !== 'stack') this.expectClean(`${label} cause[${depth}].${key}`, typeof value === 'string' ? value : inspect(value, { depth: 6 }), allowed);
      }
      current = e.cause;
    }
    this.expectClean(`${label} inspect`, inspect(error, { depth: Infinity, showHidden: true }), allowed);
    this.expectClean(`${label} JSON`, safeJson(error), allowed);
  }

  /** An object (a credential, a report, a token response): `util.inspect` and `JSON.stringify`. */
  expectCleanObject(label: string, value: unknown, allowed: readonly string[] = []): void {
    this.expectClean(`${label} inspect`, inspect(value, { depth: Infinity, showHidden: true }), allowed);
    this.expectClean(`${label} JSON`, safeJson(value), allowed);
    this.expectClean(`${label} String`, safeString(value), allowed);
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch (e) {
    return `(JSON.stringify threw ${(e as Error).message})`;
  }
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '';
  }
}

/**
 * The sentinel key re-encrypted under `passphrase` in every format openssl 3
 * writes: encrypted PKCS#8 (PBES2 AES-256 and 3DES, PBES1, scrypt), the
 * traditional `Proc-Type` PEM, PEM bundles, and PFX (OpenSSL 3 default,
 * legacy RC2/3DES, no MAC, AES without MAC iteration defaults). Files are
 * named by kind: `<kind>.pem` (bundle), `<kind>.key` (key alone) or
 * `<kind>.pfx`.
 */
export async function writeEncryptedVariants(dir: string, s: Sentinels): Promise<Record<string, { file: string; keyFile?: string }>> {
  const run = promisify(execFile);
  const env = { ...process.env, PW: s.passphrase, OPENSSL_CONF: '/dev/null' };
  const at = (name: string) => path.join(dir, name);
  await writeFile(at('plain.key'), s.keyPem);
  await writeFile(at('cert.pem'), s.certPem);
  const openssl = (...args: string[]) => run('openssl', args, { env });
  const pkcs8 = (name: string, ...args: string[]) => openssl('pkcs8', '-topk8', '-in', at('plain.key'), ...args, '-passout', 'env:PW', '-out', at(name));
  const p12 = (name: string, ...args: string[]) =>
    openssl('pkcs12', '-export', '-inkey', at('plain.key'), '-in', at('cert.pem'), ...args, '-passout', 'env:PW', '-out', at(name));
  await Promise.all([
    pkcs8('pkcs8-aes256.key', '-v2', 'aes-256-cbc'),
    pkcs8('pkcs8-des3.key', '-v2', 'des3'),
    pkcs8('pkcs8-pbes1.key', '-v1', 'PBE-SHA1-3DES'),
    pkcs8('pkcs8-scrypt.key', '-scrypt'),
    openssl('rsa', '-in', at('plain.key'), '-traditional', '-aes256', '-passout', 'env:PW', '-out', at('traditional-aes256.key')),
    p12('pfx-default.pfx'),
    p12('pfx-legacy.pfx', '-legacy'),
    p12('pfx-nomac.pfx', '-nomac'),
    p12('pfx-3des.pfx', '-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1'),
  ]);
  const variants: Record<string, { file: string; keyFile?: string }> = {};
  for (const kind of ['pkcs8-aes256', 'pkcs8-des3', 'pkcs8-pbes1', 'pkcs8-scrypt', 'traditional-aes256']) {
    await writeFile(at(`${kind}.pem`), s.certPem + readFileSync(at(`${kind}.key`), 'utf8'));
    variants[`${kind} bundle`] = { file: at(`${kind}.pem`) };
    variants[`${kind} key file`] = { file: at('cert.pem'), keyFile: at(`${kind}.key`) };
  }
  for (const kind of ['pfx-default', 'pfx-legacy', 'pfx-nomac', 'pfx-3des']) variants[kind] = { file: at(`${kind}.pfx`) };
  return variants;
}
