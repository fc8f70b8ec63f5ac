/**
 * Test support: a SoftHSM 2 token of our own (SOFTHSM2_CONF → a temp
 * directory) holding an RSA-2048, an EC P-256 and an EC P-384 key, each with
 * its certificate under the same CKA_ID. Keys are made by openssl and imported
 * by `softhsm2-util --import`, which stores them sensitive and non-extractable;
 * certificates by `pkcs11-tool` (opensc).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const MODULE_PATH = '/usr/lib/softhsm/libsofthsm2.so';
export const TOKEN_LABEL = 'daemon';
export const PIN = '735-pin-4321';
const SO_PIN = '9876-so-pin';

const onPath = (tool: string) => (process.env.PATH ?? '').split(':').some((dir) => existsSync(join(dir, tool)));

/** Why the SoftHSM tests cannot run here, or undefined when they can. */
export const softhsmMissing: string | undefined = !existsSync(MODULE_PATH)
  ? `SoftHSM 2 is not installed (${MODULE_PATH} missing): apt-get install softhsm2 opensc`
  : !onPath('softhsm2-util') || !onPath('pkcs11-tool')
    ? 'softhsm2-util or pkcs11-tool (opensc) is not on PATH: apt-get install softhsm2 opensc'
    : undefined;

export interface TestKey {
  readonly label: string;
  /** CKA_ID, hex. */
  readonly idHex: string;
  readonly certPath: string;
  readonly certPem: string;
  /** SHA-256 fingerprint of the certificate by `openssl x509 -fingerprint -sha256`: upper-case hex, no colons. */
  readonly opensslSha256: string;
  readonly opensslSha1: string;
}

export interface TestToken {
  readonly dir: string;
  readonly conf: string;
  readonly rsa: TestKey;
  readonly ec256: TestKey;
  readonly ec384: TestKey;
  /** A certificate of a key not in the token. */
  readonly strangerCertPath: string;
  /** The PIN in a file, for `pin-source=file:…`. */
  readonly pinFile: string;
  /** A URI for `key` (pin-source by default). */
  uri(key: TestKey, extra?: { pinValue?: string; modulePath?: string }): string;
  remove(): Promise<void>;
}

async function fingerprint(certPath: string, digest: 'sha1' | 'sha256'): Promise<string> {
  const { stdout } = await run('openssl', ['x509', '-in', certPath, '-noout', '-fingerprint', `-${digest}`]);
  return stdout.trim().split('=')[1]!.replaceAll(':', '');
}

/** Make the token; sets process.env.SOFTHSM2_CONF (read by SoftHSM at C_Initialize). */
export async function makeToken(): Promise<TestToken> {
  const dir = await mkdtemp(join(tmpdir(), 'x-pkcs11-test-'));
  const conf = join(dir, 'softhsm2.conf');
  await run('mkdir', [join(dir, 'tokens')]);
  await writeFile(conf, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  process.env.SOFTHSM2_CONF = conf;
  await run('softhsm2-util', ['--init-token', '--free', '--label', TOKEN_LABEL, '--pin', PIN, '--so-pin', SO_PIN], { env });

  const make = async (label: string, idHex: string, newkey: string[]): Promise<TestKey> => {
    const keyPath = join(dir, `${label}.key`);
    const certPath = join(dir, `${label}.crt`);
    await run('openssl', ['req', '-x509', ...newkey, '-nodes', '-keyout', keyPath, '-out', certPath, '-subj', `/CN=${label}`, '-days', '2']);
    await run('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', keyPath, '-out', `${keyPath}.p8`]);
    await run('softhsm2-util', ['--import', `${keyPath}.p8`, '--token', TOKEN_LABEL, '--label', label, '--id', idHex, '--pin', PIN], { env });
    await run('openssl', ['x509', '-in', certPath, '-outform', 'der', '-out', `${certPath}.der`]);
    await run('pkcs11-tool', ['--module', MODULE_PATH, '--token-label', TOKEN_LABEL, '--login', '--pin', PIN, '--write-object', `${certPath}.der`, '--type', 'cert', '--id', idHex, '--label', `${label}-cert`], { env });
    // The key lives in the token only.
    await Promise.all([rm(keyPath), rm(`${keyPath}.p8`)]);
    return {
      label, idHex, certPath, certPem: await readFile(certPath, 'utf8'),
      opensslSha256: await fingerprint(certPath, 'sha256'), opensslSha1: await fingerprint(certPath, 'sha1'),
    };
  };
  const rsa = await make('rsa-key', '01', ['-newkey', 'rsa:2048']);
  const ec256 = await make('ec256-key', '02', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  const ec384 = await make('ec384-key', '03', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384']);
  const strangerCertPath = join(dir, 'stranger.crt');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'stranger.key'), '-out', strangerCertPath, '-subj', '/CN=stranger', '-days', '2']);
  const pinFile = join(dir, 'pin');
  await writeFile(pinFile, `${PIN}\n`, { mode: 0o600 });

  return {
    dir, conf, rsa, ec256, ec384, strangerCertPath, pinFile,
    uri: (key, extra = {}) =>
      `pkcs11:token=${TOKEN_LABEL};object=${key.label};type=private?module-path=${extra.modulePath ?? MODULE_PATH}&` +
      (extra.pinValue !== undefined ? `pin-value=${encodeURIComponent(extra.pinValue)}` : `pin-source=file:${pinFile}`),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
