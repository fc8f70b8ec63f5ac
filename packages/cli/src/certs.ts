/**
 * Loading certificates and credentials from the files named on the command
 * line, with the passphrase asked for only when a container turns out to be
 * encrypted; and the certificate summary the commands print.
 *
 * @module
 */
import {
  isCredentialError,
  loadCertificate,
  loadCredentialFile,
  type CertificateCredential,
  type CertificateInfo,
} from '@x/assertion';
import type { PassphraseSource } from './args.js';
import { readUserFile } from './io.js';

/**
 * Run `load` with the given passphrase; if it fails with
 * `ERR_PASSPHRASE_REQUIRED` and a prompt is available (stdin is a TTY and no
 * passphrase source was given), prompt once and retry.
 */
async function withPassphrase<T>(label: string, source: PassphraseSource, load: (passphrase: string | undefined) => Promise<T>): Promise<T> {
  try {
    return await load(source.value);
  } catch (e) {
    if (source.value !== undefined || !source.prompt || !isCredentialError(e, 'ERR_PASSPHRASE_REQUIRED')) throw e;
  }
  return load(await source.prompt(label));
}

/**
 * Load a certificate with its private key, for signing: a PEM bundle, a PFX,
 * or a certificate (PEM/DER) with `keyPath`.
 *
 * @param ignoreValidityPeriod - accept an expired / not yet valid certificate (for display only)
 * @throws `CredentialError` from `@x/assertion` (`ERR_PASSPHRASE_REQUIRED`, `ERR_BAD_PASSPHRASE`, …)
 */
export function loadCredentialFromFile(
  path: string,
  options: { keyPath?: string; passphrase: PassphraseSource; ignoreValidityPeriod?: boolean },
): Promise<CertificateCredential> {
  const { keyPath, passphrase, ignoreValidityPeriod = false } = options;
  return withPassphrase(keyPath ?? path, passphrase, (p) =>
    loadCredentialFile(path, { keyPath, ignoreValidityPeriod, ...(p === undefined ? {} : { passphrase: p }) }),
  );
}

/**
 * Load a certificate for display, JWKS or verification. A certificate alone
 * (PEM or DER) or the certificates of a PEM bundle need no key and no
 * passphrase; a PFX is opened (with the passphrase if encrypted); with
 * `keyPath` the pair is loaded and checked. The validity period is not
 * enforced: an expired certificate can still be inspected.
 */
export async function loadCertificateFromFile(
  path: string,
  options: { keyPath?: string; passphrase: PassphraseSource },
): Promise<CertificateInfo> {
  if (options.keyPath !== undefined) return loadCredentialFromFile(path, { ...options, ignoreValidityPeriod: true });
  const bytes = await readUserFile(path, 'certificate file');
  try {
    return loadCertificate(bytes);
  } catch (e) {
    // Binary input that is not a DER certificate: try it as a PFX / PKCS#12 container.
    const binary = bytes[0] === 0x30;
    if (!binary || !isCredentialError(e, 'ERR_MALFORMED')) throw e;
  }
  return loadCredentialFromFile(path, { passphrase: options.passphrase, ignoreValidityPeriod: true });
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
