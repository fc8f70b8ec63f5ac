import { X509Certificate, sign, verify, type KeyObject } from 'node:crypto';
import { open } from 'node:fs/promises';
import { z } from 'zod';
import { CredentialError } from '../errors.js';
import { checkKeyDerivation, decodeCertificate, decodePrivateKey, looksLikePem, parsePem, pemBlocks } from '../sources/pem.js';
import { parsePfx } from '../sources/pfx.js';
import { checkCounts, DEFAULT_MAX_ITERATIONS, MAX_INPUT_BYTES, type SourceContents, type SourceKey, type SourceLimits } from '../sources/types.js';
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
 *
 * Each PEM text or PFX is at most 256 KiB and holds at most 100 certificates
 * and 16 private keys: a credential is a few kilobytes, and the caps bound
 * the work hostile input can cause.
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
   * Cap on the key-derivation iterations a PFX or an encrypted PKCS#8 key may
   * demand (PBKDF2, PKCS#12 KDF, MAC, PBES1; for scrypt, N·r·p). Default
   * {@link DEFAULT_MAX_ITERATIONS} (1,000,000). A PFX may also demand at most
   * 16 password-based derivations besides its MAC.
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
 *   `ERR_ITERATION_LIMIT` (a PFX or encrypted key asking for more than `maxIterations`),
 *   `ERR_INVALID_OPTIONS` (bad options, or an input that is none of the three shapes)
 */
export async function loadCredential(input: CredentialInput, options: LoadOptions = {}): Promise<CertificateCredential> {
  const opts = parseOptions(loadOptionsSchema, options, 'loadCredential options');
  checkInput(input);
  const contents = await readInput(input, { maxIterations: opts.maxIterations ?? DEFAULT_MAX_ITERATIONS });
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
  if (typeof path !== 'string' || path === '') throw new CredentialError('ERR_INVALID_OPTIONS', 'loadCredentialFile takes a file path (a non-empty string).');
  const bytes = await readBytes(path);
  if (keyPath !== undefined) {
    const privateKey = await readBytes(keyPath);
    return loadCredential({ certificate: bytes, privateKey, passphrase }, loadOptions);
  }
  const text = asText(bytes);
  if (text !== undefined && looksLikePem(text)) return loadCredential({ pem: text, passphrase }, loadOptions);
  if (isDerCertificate(bytes)) {
    throw new CredentialError('ERR_NO_PRIVATE_KEY', `${describePath(path)} is a DER certificate without a private key: give keyPath.`);
  }
  return loadCredential({ pfx: bytes, passphrase }, loadOptions);
}

/**
 * Parse a certificate (and chain) without a private key, e.g. to thumbprint
 * it or to verify an assertion. PEM text: every CERTIFICATE block, the first
 * one as the leaf; other blocks are ignored. Bytes: DER of one certificate,
 * or PEM text as UTF-8.
 *
 * @throws {@link CredentialError} `ERR_NO_CERTIFICATE`, `ERR_MALFORMED` (also for more than 256 KiB or
 *   100 certificates), `ERR_UNSUPPORTED_KEY`, `ERR_INVALID_OPTIONS` (neither a string nor bytes)
 */
export function loadCertificate(input: string | Uint8Array): CertificateInfo {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new CredentialError('ERR_INVALID_OPTIONS', 'loadCertificate takes PEM text or DER bytes.');
  }
  checkSize(input.length, 'The certificate input');
  const text = typeof input === 'string' ? input : asText(input);
  if (text !== undefined && looksLikePem(text)) {
    const blocks = pemBlocks(text).filter((b) => b.label === 'CERTIFICATE');
    checkCounts(blocks.length, 0);
    const certificates = blocks.map((b) => decodeCertificate(b.text));
    if (certificates.length === 0) throw new CredentialError('ERR_NO_CERTIFICATE', 'The PEM text holds no CERTIFICATE block.');
    return new CertificateInfo(certificates);
  }
  if (typeof input === 'string') throw notDer(input);
  return new CertificateInfo([decodeCertificate(input)]);
}

/**
 * Check the shape of an input from an untyped caller before touching it: a
 * wrong shape would otherwise end in a TypeError whose message quotes the
 * input, which may be key text or a passphrase.
 */
function checkInput(input: unknown): asserts input is CredentialInput {
  if (input === null || typeof input !== 'object') throw invalidInput();
  const fields = input as Record<string, unknown>;
  const isText = (v: unknown) => typeof v === 'string' || v instanceof Uint8Array;
  const ok =
    'pfx' in fields
      ? fields.pfx instanceof Uint8Array
      : 'pem' in fields
        ? isText(fields.pem)
        : 'certificate' in fields && 'privateKey' in fields && isText(fields.certificate) && isText(fields.privateKey);
  if (!ok) throw invalidInput();
  if (fields.passphrase !== undefined && typeof fields.passphrase !== 'string') {
    throw new CredentialError('ERR_INVALID_OPTIONS', 'loadCredential: passphrase must be a string.');
  }
}

async function readInput(input: CredentialInput, limits: SourceLimits): Promise<SourceContents> {
  if ('pfx' in input) {
    checkSize(input.pfx.length, 'The PFX');
    return parsePfx(input.pfx, input.passphrase, limits);
  }
  if ('pem' in input) {
    checkSize(input.pem.length, 'The PEM text');
    const text = typeof input.pem === 'string' ? input.pem : asText(input.pem);
    if (text === undefined || !looksLikePem(text)) throw notPem(input.pem);
    return parsePem(text, input.passphrase, limits);
  }
  checkSize(input.certificate.length, 'The certificate input');
  checkSize(input.privateKey.length, 'The private key input');
  const certText = typeof input.certificate === 'string' ? input.certificate : asText(input.certificate);
  const certificates =
    certText !== undefined && looksLikePem(certText)
      ? parsePem(certText, undefined, limits).certificates
      : [{ der: decodeCertificate(toBytes(input.certificate)) }];
  const keyText = typeof input.privateKey === 'string' ? input.privateKey : asText(input.privateKey);
  if (keyText !== undefined && looksLikePem(keyText)) return { keys: parsePem(keyText, input.passphrase, limits).keys, certificates };
  const der = toBytes(input.privateKey);
  checkKeyDerivation(der, limits);
  return { keys: [{ key: decodePrivateKey(der, 'der', input.passphrase, false) }], certificates };
}

/** @throws {@link CredentialError} `ERR_MALFORMED` for input over {@link MAX_INPUT_BYTES} */
function checkSize(length: number, what: string): void {
  if (length > MAX_INPUT_BYTES) {
    throw new CredentialError('ERR_MALFORMED', `${what} is ${length} bytes long; a credential is at most ${MAX_INPUT_BYTES} (256 KiB).`);
  }
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
  checkCounts(certificates.length, keys.length);
  const parsed = certificates.map((c) => ({ ...c, x509: parseCertificate(c.der) }));
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
  const matches = certificates.filter((c) => carriesKey(c.x509, key.key));
  if (matches.length === 0 || !signsFor(key.key, matches[0]!.x509)) return undefined;
  const id = key.localKeyId;
  return (id && matches.find((c) => c.localKeyId && Buffer.from(c.localKeyId).equals(id))) ?? matches[0];
}

/** `checkPrivateKey`, which throws for a certificate whose public key cannot be decoded. */
function carriesKey(x509: X509Certificate, key: KeyObject): boolean {
  try {
    return x509.checkPrivateKey(key);
  } catch {
    return false;
  }
}

const CONSISTENCY_DATA = Buffer.from('@x/assertion pairwise consistency test');

/**
 * Pairwise consistency test: the key signs what the certificate's public key
 * verifies. `checkPrivateKey` compares only public halves, and OpenSSL loads
 * a key whose private half is damaged (a flipped bit in an EC scalar or in
 * RSA's d) next to its intact public half: such a key would sign assertions
 * no server accepts. A key that cannot sign at all is left to the key-type
 * check.
 */
function signsFor(key: KeyObject, x509: X509Certificate): boolean {
  const digest = key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448' ? null : 'sha256';
  let signature: Buffer;
  try {
    signature = sign(digest, CONSISTENCY_DATA, key);
  } catch {
    return true;
  }
  try {
    return verify(digest, CONSISTENCY_DATA, x509.publicKey, signature);
  } catch {
    return false;
  }
}

function parseCertificate(der: Uint8Array): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (cause) {
    throw new CredentialError('ERR_MALFORMED', 'A certificate could not be parsed: it is truncated or not X.509.', { cause });
  }
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

/**
 * Read at most {@link MAX_INPUT_BYTES} (+1, to tell a larger file) of a file:
 * a huge file, or a device that never ends, is refused without being read.
 */
async function readBytes(path: string): Promise<Uint8Array> {
  let bytes: Buffer;
  let length = 0;
  try {
    const file = await open(path, 'r');
    try {
      bytes = Buffer.alloc(MAX_INPUT_BYTES + 1);
      while (length < bytes.length) {
        const { bytesRead } = await file.read(bytes, length, bytes.length - length);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
    } finally {
      await file.close();
    }
  } catch (cause) {
    const code = (cause as { code?: string }).code ?? 'unknown error';
    throw new CredentialError('ERR_FILE_READ', `Cannot read ${describePath(path)} (${code}).`, { cause: new Error(code) });
  }
  checkSize(length, `${describePath(path)}`);
  return new Uint8Array(bytes.subarray(0, length));
}

/**
 * A path for a message, quoted — unless it looks like key material or an
 * assertion passed where a path was expected (PEM text, a long line): then
 * only its length is named, so the message cannot carry the secret.
 */
function describePath(path: string): string {
  return path.length > 256 || /-----BEGIN|[\r\n]/.test(path) ? `The path (${path.length} characters, not shown: it looks like file contents, not a path)` : JSON.stringify(path);
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
