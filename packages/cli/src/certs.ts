/**
 * Loading certificates and credentials from the files named on the command
 * line, with the passphrase asked for only when a container turns out to be
 * encrypted; and the certificate summary the commands print.
 *
 * @module
 */
import {
  CredentialError,
  detectContainer,
  isCredentialError,
  loadCertificate,
  loadCredential,
  loadCredentialFile,
  readCredentialFile,
  type CertificateCredential,
  type CertificateInfo,
} from '@x/assertion';
import { passphraseSource, type OptionValues, type PassphraseSource, type RunContext } from './args.js';

/** A key in a PKCS#11 token (`@x/pkcs11`'s signer, through @x/token, which loads it on demand). */
export type HardwareKey = import('@x/token').HardwareKey;

/** Whether a <file> argument is a PKCS#11 URI (RFC 7512), and if so the key it names; @x/token is loaded only then. */
async function openHardwareKey(path: string): Promise<HardwareKey | undefined> {
  if (!/^pkcs11:/i.test(path)) return undefined;
  const { openPkcs11Key } = await import('@x/token');
  return openPkcs11Key(path);
}
import { printJson, type Io } from './io.js';

/**
 * How one command run opens credential files: the passphrase source, whether
 * a PFX without a MAC is refused (`--require-integrity`), and where the
 * warning about such a file goes.
 */
export interface CredentialFlags {
  readonly passphrase: PassphraseSource;
  readonly requireIntegrity: boolean;
  readonly ctx: RunContext;
}

/**
 * The {@link CredentialFlags} of a command line (`--passphrase-env`,
 * `--passphrase-file`, `--require-integrity`).
 *
 * @param fallbackEnv - an environment variable holding the passphrase when no flag gives one
 */
export async function credentialFlags(ctx: RunContext, values: OptionValues, usage: string, fallbackEnv?: string): Promise<CredentialFlags> {
  return { passphrase: await passphraseSource(ctx, values, usage, fallbackEnv), requireIntegrity: values['require-integrity'] === true, ctx };
}

/**
 * Run `load` with the given passphrase; if it fails with
 * `ERR_PASSPHRASE_REQUIRED` and a prompt is available (stdin is a TTY and no
 * passphrase source was given), prompt once and retry.
 */
async function withPassphrase<T>(label: string, source: PassphraseSource, load: (passphrase: string | undefined) => Promise<T>): Promise<T> {
  try {
    return await load(source.value);
  } catch (e) {
    if (source.value !== undefined || !isCredentialError(e, 'ERR_PASSPHRASE_REQUIRED') || !source.prompt) throw e;
  }
  return load(await source.prompt(label));
}

/**
 * Warn (stderr) that a PFX loaded without integrity protection, as OpenSSL does ("MAC is absent").
 * The path is shown as typed: the file it names has just loaded as a PFX.
 */
function warnIntegrity(flags: CredentialFlags, path: string, credential: CertificateCredential): CertificateCredential {
  if (credential.integrity === 'none') {
    flags.ctx.io.stderr.write(
      `x-assertion: warning: ${path}: the PFX has no MAC, so nothing shows whether its contents were changed (--require-integrity refuses such files)\n`,
    );
  }
  return credential;
}

/**
 * Load a certificate with its private key, for signing: a PEM bundle, a PFX,
 * or a certificate (PEM/DER) with `keyPath`. The leaf is the library's (the
 * certificate that matches the key). A PKCS#11 URI (`pkcs11:…`) opens the key
 * in its token instead (`@x/pkcs11`, loaded on demand; close it when done).
 *
 * @param ignoreValidityPeriod - accept an expired / not yet valid certificate (for display only)
 * @throws `CredentialError` from `@x/assertion` (`ERR_PASSPHRASE_REQUIRED`, `ERR_BAD_PASSPHRASE`,
 *   `ERR_NO_INTEGRITY`, `ERR_FILE_READ`, …)
 */
export async function loadCredentialFromFile(
  path: string,
  flags: CredentialFlags,
  options: { keyPath?: string | undefined; ignoreValidityPeriod?: boolean } = {},
): Promise<CertificateCredential | HardwareKey> {
  const { keyPath, ignoreValidityPeriod = false } = options;
  if (keyPath !== undefined && /^pkcs11:/i.test(path)) {
    throw new CredentialError('ERR_INVALID_OPTIONS', 'A pkcs11: URI names its key in the token: --key does not apply.');
  }
  const hardware = await openHardwareKey(path);
  if (hardware !== undefined) return hardware;
  const credential = await withPassphrase(keyPath ?? path, flags.passphrase, (p) =>
    loadCredentialFile(path, { keyPath, ignoreValidityPeriod, requireIntegrity: flags.requireIntegrity, ...(p === undefined ? {} : { passphrase: p }) }),
  );
  return warnIntegrity(flags, path, credential);
}

/**
 * Load a certificate for display, JWKS or verification, with the library's
 * leaf rule. PEM (a certificate, or a bundle with or without its key) and a
 * DER certificate need no passphrase; a PFX is opened (with the passphrase if
 * encrypted); with `keyPath` the pair is loaded and checked. The validity
 * period is not enforced: an expired certificate can still be inspected.
 */
export async function loadCertificateFromFile(path: string, flags: CredentialFlags, keyPath?: string): Promise<CertificateInfo> {
  const hardware = await openHardwareKey(path);
  if (hardware !== undefined) {
    await hardware.close();
    return hardware.certificate;
  }
  // Not a pkcs11: URI (handled above): a file credential.
  if (keyPath !== undefined) return (await loadCredentialFromFile(path, flags, { keyPath, ignoreValidityPeriod: true })) as CertificateCredential;
  const bytes = await readCredentialFile(path);
  if (detectContainer(bytes) === 'pem') return loadCertificate(bytes);
  try {
    return loadCertificate(bytes); // a DER certificate
  } catch (e) {
    if (!isCredentialError(e, 'ERR_MALFORMED')) throw e;
  }
  const credential = await withPassphrase(path, flags.passphrase, (p) =>
    loadCredential({ pfx: bytes, ...(p === undefined ? {} : { passphrase: p }) }, { ignoreValidityPeriod: true, requireIntegrity: flags.requireIntegrity }),
  );
  return warnIntegrity(flags, path, credential);
}

/**
 * A distinguished name on one line, most specific attribute first, as Windows
 * and the Azure portal show it: `CN=app, O=Example, C=GB`. (Node prints one
 * `attr=value` per line in encoding order.)
 */
export function formatDn(dn: string): string {
  return dn
    .split('\n')
    .filter((l) => l !== '')
    .reverse()
    .join(', ');
}

/** An ISO 8601 UTC time without milliseconds: `2026-01-15T10:30:00Z`. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The `thumbprint --json` object (fields documented in the README). */
export function certificateSummary(cert: CertificateInfo, now = new Date()): Record<string, unknown> {
  return {
    subject: formatDn(cert.subject),
    issuer: formatDn(cert.issuer),
    serialNumber: cert.serialNumber,
    notBefore: isoSeconds(cert.notBefore),
    notAfter: isoSeconds(cert.notAfter),
    validNow: now >= cert.notBefore && now <= cert.notAfter,
    keyType: cert.keyType,
    keySize: cert.keySize,
    curve: cert.curve ?? null,
    defaultAlgorithm: cert.defaultAlgorithm,
    kid: cert.kid,
    x5t: cert.thumbprints.x5t,
    'x5t#S256': cert.thumbprints['x5t#S256'],
    sha1: cert.thumbprints.sha1Hex,
    sha256: cert.thumbprints.sha256Hex,
    chainLength: cert.chain.length,
  };
}

/** Print a certificate's summary: {@link certificateSummary} as JSON, or as aligned text lines. */
export function printSummary(io: Io, cert: CertificateInfo, json: boolean): void {
  const summary = certificateSummary(cert);
  if (json) return printJson(io, summary);
  const rows: Array<[string, unknown]> = [
    ['subject', summary.subject],
    ['issuer', summary.issuer],
    ['serial', summary.serialNumber],
    ['not before', summary.notBefore],
    ['not after', `${summary.notAfter as string}${summary.validNow ? '' : '  (not valid now)'}`],
    ['key', `${cert.keyType}${cert.keyType === 'RSA' ? ` ${cert.keySize}` : cert.curve ? ` ${cert.curve}` : ''}`],
    ['sha1', summary.sha1],
    ['sha256', summary.sha256],
    ['x5t', summary.x5t],
    ['x5t#S256', summary['x5t#S256']],
  ];
  io.stdout.write(rows.map(([k, v]) => `${`${k}:`.padEnd(12)}${String(v)}\n`).join(''));
}
