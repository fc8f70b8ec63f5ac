import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { CredentialError } from '../errors.js';
import { decodeCertificate, decodePrivateKey, looksLikePem, parsePem, pemBlocks } from '../sources/pem.js';
import { parsePfx } from '../sources/pfx.js';
import { DEFAULT_MAX_ITERATIONS, type SourceContents, type SourceKey } from '../sources/types.js';
import { CertificateCredential, CertificateInfo } from './certificate.js';
import { parseOptions } from './options.js';

/**
 * What {@link loadCredential} reads:
 * - `{ pfx, passphrase? }`: a PFX / PKCS#12 container (DER or BER bytes);
 * - `{ pem, passphrase? }`: PEM text (string or UTF-8 bytes) holding the
 *   certificate(s) and the private key, blocks in any order;
 * - `{ certificate, privateKey, passphrase? }`: separate PEM texts (the
 *   certificate may also be DER bytes).
 *
 * `passphrase` opens an encrypted key or container. Left out for a PFX, both
 * "no password" and the empty password are tried (OpenSSL and Windows differ).
 */
export type CredentialInput =
  | { readonly pfx: Uint8Array; readonly passphrase?: string }
  | { readonly pem: string | Uint8Array; readonly passphrase?: string }
  | { readonly certificate: string | Uint8Array; readonly privateKey: string | Uint8Array; readonly passphrase?: string };

/** Options of {@link loadCredential}. */
export interface LoadOptions {
  /**
   * Accept a certificate outside its validity period. Default `false`: an
   * expired or not-yet-valid certificate is rejected, because Entra ID and
   * most servers refuse it and the failure is clearer here.
   */
  readonly ignoreValidityPeriod?: boolean;
  /** The time the validity period is checked against. Default: now. */
  readonly now?: Date;
  /**
   * Cap on the key-derivation iterations a PFX may demand (PBKDF2, PKCS#12
   * KDF, MAC). Default {@link DEFAULT_MAX_ITERATIONS} (1,000,000).
   */
  readonly maxIterations?: number;
}

/** Options of {@link loadCredentialFile}. */
export interface LoadFileOptions extends LoadOptions {
  /** Opens an encrypted key or PFX. */
  readonly passphrase?: string;
  /** A separate PEM file holding the private key, when `path` holds only the certificate(s). */
  readonly keyPath?: string;
}

const loadOptionsSchema = z.strictObject({
  ignoreValidityPeriod: z.boolean().optional(),
  now: z.date().optional(),
  maxIterations: z.number().int().positive().optional(),
});

const fileOptionsSchema = loadOptionsSchema.extend({
  passphrase: z.string().optional(),
  keyPath: z.string().min(1).optional(),
});

/**
 * Load a certificate and its private key.
 *
 * The leaf is the certificate whose public key matches the private key,
 * wherever it stands; the other certificates follow it in input order as the
 * chain. In a PFX holding several pairs, keys and certificates are paired by
 * their `localKeyId` attribute first (RFC 7292 §4.2), then by public key; the
 * first key with a certificate wins.
 *
 * @param input - see {@link CredentialInput}
 * @param options - see {@link LoadOptions}
 * @returns the credential: certificate details, thumbprints, JWK and private key
 * @throws {@link CredentialError} with code
 *   `ERR_PASSPHRASE_REQUIRED` (encrypted, no passphrase),
 *   `ERR_BAD_PASSPHRASE`,
 *   `ERR_NO_PRIVATE_KEY`, `ERR_NO_CERTIFICATE`,
 *   `ERR_KEY_MISMATCH` (no certificate carries the key's public half),
 *   `ERR_WEAK_KEY` (RSA under 2048 bits),
 *   `ERR_UNSUPPORTED_KEY` (not RSA, EC P-256/P-384/P-521 or Ed25519),
 *   `ERR_CERT_EXPIRED`, `ERR_CERT_NOT_YET_VALID` (unless `ignoreValidityPeriod`),
 *   `ERR_MALFORMED` (unreadable, truncated, or base64 text where DER was expected),
 *   `ERR_UNSUPPORTED_FORMAT` (a PFX algorithm this package does not read),
 *   `ERR_ITERATION_LIMIT` (a PFX asking for more than `maxIterations`),
 *   `ERR_INVALID_OPTIONS`
 */
export async function loadCredential(input: CredentialInput, options: LoadOptions = {}): Promise<CertificateCredential> {
  const opts = parseOptions(loadOptionsSchema, options, 'loadCredential options');
  const contents = await readInput(input, opts.maxIterations ?? DEFAULT_MAX_ITERATIONS);
  return assemble(contents, opts);
}

/**
 * Load a certificate and its private key from a file: PEM (detected by its
 * `-----BEGIN` line) or a DER PFX / PKCS#12 container.
 *
 * @param path - PEM bundle, PEM certificate (with `keyPath`) or PFX/P12 file
 * @param options - `passphrase`, `keyPath` and the {@link LoadOptions}
 * @throws {@link CredentialError} `ERR_FILE_READ` when a file cannot be read,
 *   and every code of {@link loadCredential}
 */
export async function loadCredentialFile(path: string, options: LoadFileOptions = {}): Promise<CertificateCredential> {
  const { passphrase, keyPath, ...loadOptions } = parseOptions(fileOptionsSchema, options, 'loadCredentialFile options');
  const bytes = await readBytes(path);
  if (keyPath !== undefined) {
    const privateKey = await readBytes(keyPath);
    return loadCredential({ certificate: bytes, privateKey, passphrase }, loadOptions);
  }
  const text = asText(bytes);
  if (text !== undefined && looksLikePem(text)) return loadCredential({ pem: text, passphrase }, loadOptions);
  if (isDerCertificate(bytes)) {
    throw new CredentialError('ERR_NO_PRIVATE_KEY', `${JSON.stringify(path)} is a DER certificate without a private key: give keyPath.`);
  }
  return loadCredential({ pfx: bytes, passphrase }, loadOptions);
}

/**
 * Parse a certificate (and chain) without a private key, e.g. to thumbprint
 * it or to verify an assertion. PEM text: every CERTIFICATE block, the first
 * one as the leaf; other blocks are ignored. Bytes: DER of one certificate,
 * or PEM text as UTF-8.
 *
 * @throws {@link CredentialError} `ERR_NO_CERTIFICATE`, `ERR_MALFORMED`, `ERR_UNSUPPORTED_KEY`
 */
export function loadCertificate(input: string | Uint8Array): CertificateInfo {
  const text = typeof input === 'string' ? input : asText(input);
  if (text !== undefined && looksLikePem(text)) {
    const certificates = pemBlocks(text)
      .filter((b) => b.label === 'CERTIFICATE')
      .map((b) => decodeCertificate(b.text));
    if (certificates.length === 0) throw new CredentialError('ERR_NO_CERTIFICATE', 'The PEM text holds no CERTIFICATE block.');
    return new CertificateInfo(certificates);
  }
  if (typeof input === 'string') throw notDer(input);
  return new CertificateInfo([decodeCertificate(input)]);
}

async function readInput(input: CredentialInput, maxIterations: number): Promise<SourceContents> {
  if ('pfx' in input) {
    if (!(input.pfx instanceof Uint8Array)) throw invalidInput();
    return parsePfx(input.pfx, input.passphrase, { maxIterations });
  }
  if ('pem' in input) {
    const text = typeof input.pem === 'string' ? input.pem : asText(input.pem);
    if (text === undefined || !looksLikePem(text)) throw notPem(input.pem);
    return parsePem(text, input.passphrase);
  }
  if ('certificate' in input && 'privateKey' in input) {
    const certText = typeof input.certificate === 'string' ? input.certificate : asText(input.certificate);
    const certificates =
      certText !== undefined && looksLikePem(certText)
        ? parsePem(certText, undefined).certificates
        : [{ der: decodeCertificate(toBytes(input.certificate)) }];
    const keyText = typeof input.privateKey === 'string' ? input.privateKey : asText(input.privateKey);
    const keys =
      keyText !== undefined && looksLikePem(keyText)
        ? parsePem(keyText, input.passphrase).keys
        : [{ key: decodePrivateKey(toBytes(input.privateKey), 'der', input.passphrase, false) }];
    return { keys, certificates };
  }
  throw invalidInput();
}

/** Pair the leaf with its key, check strength and validity, build the credential. */
function assemble(contents: SourceContents, opts: LoadOptions): CertificateCredential {
  const { keys, certificates } = contents;
  if (keys.length === 0 && certificates.length === 0) {
    throw new CredentialError('ERR_MALFORMED', 'The input holds neither a certificate nor a private key.');
  }
  if (keys.length === 0) {
    throw new CredentialError('ERR_NO_PRIVATE_KEY', 'The input holds certificates but no private key: give the key too (keyPath, or a bundle).');
  }
  if (certificates.length === 0) {
    throw new CredentialError('ERR_NO_CERTIFICATE', 'The input holds a private key but no certificate: give the certificate too.');
  }
  const parsed = certificates.map((c) => ({ ...c, x509: new X509Certificate(c.der) }));
  for (const key of keys) {
    const leaf = findLeaf(key, parsed);
    if (leaf === undefined) continue;
    const chain = [leaf.der, ...parsed.filter((c) => c !== leaf).map((c) => c.der)];
    const credential = new CertificateCredential(key.key, chain);
    checkStrength(credential);
    if (!opts.ignoreValidityPeriod) checkValidity(credential, opts.now ?? new Date());
    return credential;
  }
  throw new CredentialError(
    'ERR_KEY_MISMATCH',
    `None of the ${certificates.length} certificate(s) carries the public key of the private key: the key and certificate do not belong together.`,
  );
}

function findLeaf<C extends { x509: X509Certificate; localKeyId?: Uint8Array }>(key: SourceKey, certificates: readonly C[]): C | undefined {
  const matches = certificates.filter((c) => c.x509.checkPrivateKey(key.key));
  const id = key.localKeyId;
  return (id && matches.find((c) => c.localKeyId && Buffer.from(c.localKeyId).equals(id))) ?? matches[0];
}

function checkStrength(credential: CertificateCredential): void {
  if (credential.keyType === 'RSA' && credential.keySize < 2048) {
    throw new CredentialError(
      'ERR_WEAK_KEY',
      `The RSA key has ${credential.keySize} bits; at least 2048 are required (NIST SP 800-131A, Microsoft Entra ID).`,
    );
  }
}

function checkValidity(credential: CertificateInfo, now: Date): void {
  const window = `valid from ${credential.notBefore.toISOString()} to ${credential.notAfter.toISOString()}`;
  if (now.getTime() > credential.notAfter.getTime()) {
    throw new CredentialError(
      'ERR_CERT_EXPIRED',
      `The certificate expired: it was ${window}; it is now ${now.toISOString()}. Renew it, or pass ignoreValidityPeriod to load it anyway.`,
    );
  }
  if (now.getTime() < credential.notBefore.getTime()) {
    throw new CredentialError(
      'ERR_CERT_NOT_YET_VALID',
      `The certificate is not valid yet: it is ${window}; it is now ${now.toISOString()}. Check the clock, or pass ignoreValidityPeriod.`,
    );
  }
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (cause) {
    const code = (cause as { code?: string }).code ?? 'unknown error';
    throw new CredentialError('ERR_FILE_READ', `Cannot read ${JSON.stringify(path)} (${code}).`, { cause });
  }
}

/** Decode bytes as UTF-8 text when they are text; `undefined` for binary (DER). */
function asText(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0x30) return undefined; // DER SEQUENCE
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

function isDerCertificate(bytes: Uint8Array): boolean {
  try {
    new X509Certificate(bytes);
    return true;
  } catch {
    return false;
  }
}

function toBytes(input: string | Uint8Array): Uint8Array {
  if (typeof input !== 'string') return input;
  throw notDer(input);
}

const BASE64_TEXT = /^[A-Za-z0-9+/=\s]+$/;

/** The error for text where DER was expected, saying so when it is base64. */
function notDer(text: string): CredentialError {
  const hint = BASE64_TEXT.test(text.trim())
    ? 'it looks like base64 text: decode it to binary DER first (e.g. `base64 -d`).'
    : 'expected PEM text or DER bytes.';
  return new CredentialError('ERR_MALFORMED', `The input is not a certificate: ${hint}`);
}

function notPem(input: string | Uint8Array): CredentialError {
  if (typeof input !== 'string' && input[0] === 0x30) {
    return new CredentialError('ERR_MALFORMED', 'The `pem` input is binary DER: pass a PFX as `{ pfx }`, or PEM text as `{ pem }`.');
  }
  return new CredentialError('ERR_MALFORMED', 'The `pem` input holds no PEM block (-----BEGIN …-----).');
}

function invalidInput(): CredentialError {
  return new CredentialError(
    'ERR_INVALID_OPTIONS',
    'loadCredential takes { pfx, passphrase? }, { pem, passphrase? } or { certificate, privateKey, passphrase? }.',
  );
}
