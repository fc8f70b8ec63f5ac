import { CredentialError } from '../errors.js';
import { checkKeyDerivation, decodePrivateKey, parseCertificate, parsePem, pemBlocks } from '../sources/pem.js';
import { parsePfx } from '../sources/pfx.js';
import { checkCounts, DEFAULT_MAX_ITERATIONS, type SourceContents, type SourceLimits } from '../sources/types.js';
import { CertificateCredential, CertificateInfo } from './certificate.js';
import { checkInput, checkSize, derInput, detectContainer, notPem, pemText, readCredentialFile, shownPath, type CredentialInput } from './input.js';
import { candidates, endEntityChain, pairLeaf } from './leaf.js';
import { lazySchema, parseOptions } from './options.js';
import { checkPolicy } from './policy.js';

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
  /**
   * Refuse a PFX whose contents no MAC protects (`ERR_NO_INTEGRITY`). Default
   * `false`: such a file loads, with {@link CertificateCredential.integrity} `'none'`.
   */
  readonly requireIntegrity?: boolean;
}

/** Options of {@link loadCredentialFile}. */
export interface LoadFileOptions extends LoadOptions {
  /** Opens an encrypted key or PFX. */
  readonly passphrase?: string;
  /** A separate PEM file holding the private key, when `path` holds only the certificate(s). */
  readonly keyPath?: string;
}

const loadOptionsSchema = lazySchema((z) =>
  z.strictObject({
    ignoreValidityPeriod: z.boolean().optional(),
    now: z.date().optional(),
    maxIterations: z.number().int().positive().optional(),
    requireIntegrity: z.boolean().optional(),
  }),
);

const fileOptionsSchema = lazySchema((z) =>
  loadOptionsSchema().extend({
    passphrase: z.string().optional(),
    keyPath: z.string().min(1).optional(),
  }),
);

/**
 * Load a certificate and its private key: bytes → source (PEM or PFX) →
 * leaf (the one leaf rule of `leaf.ts`) → policy → credential.
 *
 * The leaf is the certificate whose public key matches the private key,
 * wherever it stands; of several, a currently valid one, then (PFX) the one
 * whose `localKeyId` names the key (RFC 7292 §4.2), then the latest
 * `notAfter`. The other certificates follow it in input order as the chain,
 * except other certificates of the same key. With several keys, the first
 * one a certificate carries wins.
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
 *   `ERR_MALFORMED` (unreadable, truncated, over 256 KiB, or base64 text where DER was expected),
 *   `ERR_UNSUPPORTED_FORMAT` (a PFX algorithm this package does not read),
 *   `ERR_ITERATION_LIMIT` (a PFX or encrypted key asking for more than `maxIterations`),
 *   `ERR_NO_INTEGRITY` (`requireIntegrity` and a PFX without a MAC),
 *   `ERR_INVALID_OPTIONS` (bad options, or an input that is none of the three shapes)
 */
export async function loadCredential(input: CredentialInput, options: LoadOptions = {}): Promise<CertificateCredential> {
  const opts = parseOptions(loadOptionsSchema, options, 'loadCredential options');
  checkInput(input);
  const limits = { maxIterations: opts.maxIterations ?? DEFAULT_MAX_ITERATIONS, requireIntegrity: opts.requireIntegrity ?? false };
  const contents = await readSource(input, limits);
  if (limits.requireIntegrity && 'pfx' in input && contents.integrity !== 'mac') {
    throw new CredentialError('ERR_NO_INTEGRITY', 'The PKCS#12 file has no MAC: its contents are not protected against changes (requireIntegrity).');
  }
  const now = opts.now ?? new Date();
  const { key, chain } = pairLeaf(checkContents(contents).keys, candidates(contents.certificates), now);
  const credential = new CertificateCredential(key.key, chain, 'pfx' in input ? contents.integrity : undefined);
  checkPolicy(credential, opts.ignoreValidityPeriod ? undefined : now);
  return credential;
}

/**
 * Load a certificate and its private key from a file: PEM or a DER PFX /
 * PKCS#12 container ({@link detectContainer}), read by {@link readCredentialFile}.
 *
 * @param path - PEM bundle, PEM certificate (with `keyPath`) or PFX/P12 file
 * @param options - `passphrase`, `keyPath` and the {@link LoadOptions}
 * @throws {@link CredentialError} `ERR_FILE_READ` when a file cannot be read,
 *   and every code of {@link loadCredential}
 */
export async function loadCredentialFile(path: string, options: LoadFileOptions = {}): Promise<CertificateCredential> {
  const { passphrase, keyPath, ...loadOptions } = parseOptions(fileOptionsSchema, options, 'loadCredentialFile options');
  const bytes = await readCredentialFile(path);
  if (keyPath !== undefined) {
    const privateKey = await readCredentialFile(keyPath);
    return loadCredential({ certificate: bytes, privateKey, passphrase }, loadOptions);
  }
  const text = pemText(bytes);
  if (text !== undefined) return loadCredential({ pem: text, passphrase }, loadOptions);
  if (isDerCertificate(bytes)) {
    throw new CredentialError('ERR_NO_PRIVATE_KEY', `${shownPath(path)} is a DER certificate without a private key: give keyPath.`);
  }
  return loadCredential({ pfx: bytes, passphrase }, loadOptions);
}

/**
 * Parse a certificate (and chain) without a private key, e.g. to thumbprint
 * it or to verify an assertion. PEM text: every CERTIFICATE block; the leaf
 * by the one leaf rule (the certificate of an unencrypted private key in the
 * text, else the end-entity certificate), the others following in input
 * order. Bytes: DER of one certificate, or PEM text as UTF-8.
 *
 * @throws {@link CredentialError} `ERR_NO_CERTIFICATE`, `ERR_MALFORMED` (also for more than 256 KiB or
 *   100 certificates), `ERR_AMBIGUOUS_LEAF` (no key, and not exactly one end-entity certificate),
 *   `ERR_KEY_MISMATCH` (a key in the text that no certificate carries), `ERR_UNSUPPORTED_KEY`,
 *   `ERR_INVALID_OPTIONS` (neither a string nor bytes)
 */
export function loadCertificate(input: string | Uint8Array): CertificateInfo {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new CredentialError('ERR_INVALID_OPTIONS', 'loadCertificate takes PEM text or DER bytes.');
  }
  checkSize(input.length, 'The certificate input');
  const text = pemText(input);
  if (text === undefined) return new CertificateInfo([derInput(input)]);
  const blocks = pemBlocks(text);
  const certificates = blocks.filter((b) => b.label === 'CERTIFICATE');
  const keys = blocks.filter((b) => /^(RSA |EC )?PRIVATE KEY$/.test(b.label) && !b.text.includes('Proc-Type: 4,ENCRYPTED'));
  checkCounts(certificates.length, keys.length);
  if (certificates.length === 0) throw new CredentialError('ERR_NO_CERTIFICATE', 'The PEM text holds no CERTIFICATE block.');
  const parsed = certificates.map((b) => {
    const x509 = parseCertificate(b.text);
    return { der: x509.raw, x509 };
  });
  if (keys.length === 0) return new CertificateInfo(endEntityChain(parsed));
  const sourceKeys = keys.map((k) => ({ key: decodePrivateKey(k.text, 'pem', undefined, false) }));
  return new CertificateInfo(pairLeaf(sourceKeys, parsed, new Date()).chain);
}

/** Read the keys and certificates of one input, bounded by `limits`. */
async function readSource(input: CredentialInput, limits: SourceLimits): Promise<SourceContents> {
  if ('pfx' in input) {
    checkSize(input.pfx.length, 'The PFX');
    return parsePfx(input.pfx, input.passphrase, limits);
  }
  if ('pem' in input) {
    checkSize(input.pem.length, 'The PEM text');
    const text = pemText(input.pem);
    if (text === undefined) throw notPem(input.pem);
    return parsePem(text, input.passphrase, limits);
  }
  checkSize(input.certificate.length, 'The certificate input');
  checkSize(input.privateKey.length, 'The private key input');
  const certText = pemText(input.certificate);
  const certificates =
    certText !== undefined ? parsePem(certText, undefined, limits).certificates : [{ der: parseCertificate(derInput(input.certificate)).raw }];
  const keyText = pemText(input.privateKey);
  if (keyText !== undefined) return { keys: parsePem(keyText, input.passphrase, limits).keys, certificates };
  const der = derInput(input.privateKey);
  checkKeyDerivation(der, limits);
  return { keys: [{ key: decodePrivateKey(der, 'der', input.passphrase, false) }], certificates };
}

/** @throws {@link CredentialError} `ERR_MALFORMED`, `ERR_NO_PRIVATE_KEY`, `ERR_NO_CERTIFICATE` */
function checkContents(contents: SourceContents): SourceContents {
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
  return contents;
}

function isDerCertificate(bytes: Uint8Array): boolean {
  try {
    parseCertificate(bytes);
    return true;
  } catch {
    return false;
  }
}
