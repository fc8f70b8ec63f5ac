import { CredentialError } from '../errors.js';
import { algorithmIdentifier, checkLength, integer, isUniversal, malformed, octets, required, sequence, Type, type Asn1 } from './asn1.js';
import { CBC_CIPHERS, type CbcCipher, type EncryptionParams, type Pbkdf2Params, type Pbmac1Params, type Pkcs12PbeCipher } from './pbe.js';
import type { DigestName } from './pkcs12-kdf.js';
import type { SourceLimits } from './types.js';

/**
 * The one reader of password-based encryption and MAC parameters: PBES2 with
 * PBKDF2 or scrypt (RFC 8018, RFC 7914), PBES1 (RFC 8018 §6.1), PKCS#12 PBE
 * (RFC 7292 Appendix C) and PBMAC1 (RFC 9579), for PKCS#12 files (`pfx.ts`)
 * and encrypted PKCS#8 keys (`pem.ts`).
 *
 * Every iteration count (for scrypt, N·r·p) is checked against
 * `maxIterations` as soon as it is read, before any other check can refuse
 * the algorithm: a caller that leaves refused keys to OpenSSL is then still
 * protected from a derivation OpenSSL would run.
 *
 * In messages, `what` names what the derivation protects, as the subject of
 * a sentence: `The encrypted private key`, `The MAC of the PKCS#12 file`.
 *
 * @module
 */

const PBES2 = '1.2.840.113549.1.5.13';
const PBKDF2 = '1.2.840.113549.1.5.12';
const SCRYPT = '1.3.6.1.4.1.11591.4.11';

/** HMAC PRFs of PBKDF2 and PBMAC1 (RFC 8018 Appendix B.1). */
const HMACS: Readonly<Record<string, DigestName>> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};

/** PBES2 encryption schemes decrypted here (RFC 8018 Appendix B.2). */
const PBES2_CIPHERS: Readonly<Record<string, CbcCipher>> = {
  '2.16.840.1.101.3.4.1.2': 'aes-128-cbc',
  '2.16.840.1.101.3.4.1.22': 'aes-192-cbc',
  '2.16.840.1.101.3.4.1.42': 'aes-256-cbc',
  '1.2.840.113549.3.7': 'des-ede3-cbc',
};

/**
 * The schemes whose parameters are { salt, iterations } (RFC 7292 Appendix C,
 * RFC 8018 Appendix A.3), by who decrypts them: this package (a PKCS#12 PBE
 * cipher), or, named for messages, OpenSSL (PBES1, in keys only) or no one
 * (RC4, which Node's OpenSSL has only in its legacy provider; its count is
 * checked all the same).
 */
const PBE: Readonly<Record<string, Pkcs12PbeCipher | { readonly by: 'openssl' | 'none'; readonly name: string }>> = {
  '1.2.840.113549.1.12.1.1': { by: 'none', name: 'pbeWithSHAAnd128BitRC4' },
  '1.2.840.113549.1.12.1.2': { by: 'none', name: 'pbeWithSHAAnd40BitRC4' },
  '1.2.840.113549.1.12.1.3': '3des',
  '1.2.840.113549.1.12.1.4': '2des',
  '1.2.840.113549.1.12.1.5': 'rc2-128',
  '1.2.840.113549.1.12.1.6': 'rc2-40',
  '1.2.840.113549.1.5.1': { by: 'openssl', name: 'pbeWithMD2AndDES-CBC' },
  '1.2.840.113549.1.5.3': { by: 'openssl', name: 'pbeWithMD5AndDES-CBC' },
  '1.2.840.113549.1.5.4': { by: 'openssl', name: 'pbeWithMD2AndRC2-CBC' },
  '1.2.840.113549.1.5.6': { by: 'openssl', name: 'pbeWithMD5AndRC2-CBC' },
  '1.2.840.113549.1.5.10': { by: 'openssl', name: 'pbeWithSHA1AndDES-CBC' },
  '1.2.840.113549.1.5.11': { by: 'openssl', name: 'pbeWithSHA1AndRC2-CBC' },
};

/** Names of other algorithms this package does not run itself, for messages. */
const NAMES: Readonly<Record<string, string>> = {
  [SCRYPT]: 'scrypt',
  '1.2.840.113549.2.5': 'MD5',
  '1.3.14.3.2.7': 'DES-CBC',
  '1.2.840.113549.3.2': 'RC2-CBC',
  '1.2.392.200011.61.1.1.1.2': 'CAMELLIA-128-CBC',
  '1.2.392.200011.61.1.1.1.3': 'CAMELLIA-192-CBC',
  '1.2.392.200011.61.1.1.1.4': 'CAMELLIA-256-CBC',
};

/** A scheme we do not run, in a key OpenSSL may decrypt: it is handed the whole EncryptedPrivateKeyInfo. */
export interface OpenSslDecryption {
  readonly scheme: 'openssl';
  /** The scheme, as messages name it. */
  readonly algorithm: string;
}

/**
 * Read an encryption AlgorithmIdentifier (RFC 5280 §4.1.1.2): PBES2 (RFC 8018
 * §6.2, Appendix A.4) with PBKDF2 and AES-128/192/256-CBC or DES-EDE3-CBC,
 * or PKCS#12 PBE with 3DES, 2DES or RC2 (RFC 7292 Appendix C), which this
 * package decrypts; or, for OpenSSL (the caller decides whether it may),
 * PBES2 with scrypt (RFC 7914 §7) or another cipher, and PBES1 (RFC 8018
 * §6.1).
 *
 * @param what - what the encryption protects, for messages (see the module)
 * @throws {@link CredentialError} `ERR_ITERATION_LIMIT`, `ERR_MALFORMED`, `ERR_UNSUPPORTED_FORMAT`
 */
export function readEncryption(node: Asn1, limits: SourceLimits, what: string): EncryptionParams | OpenSslDecryption {
  const { oid: algorithm, params } = algorithmIdentifier(node, 'encryption algorithm');
  if (algorithm === PBES2) return readPbes2(required(params, 'PBES2 parameters'), limits, what);
  const decrypter = PBE[algorithm];
  if (decrypter === undefined) throw unsupportedAlgorithm(describe(algorithm), what);
  const pbe = readPbeParams(params, limits, what);
  if (typeof decrypter === 'string') return { scheme: 'pkcs12-pbe', cipher: decrypter, ...pbe };
  if (decrypter.by === 'none') throw unsupportedAlgorithm(describe(algorithm), what);
  return { scheme: 'openssl', algorithm: describe(algorithm) };
}

/**
 * pkcs-12PbeParams / PBEParameter ::= SEQUENCE { salt OCTET STRING, iterations INTEGER }
 * (RFC 7292 Appendix C, RFC 8018 Appendix A.3)
 */
function readPbeParams(params: Asn1 | undefined, limits: SourceLimits, what: string): { salt: Buffer; iterations: number } {
  const [salt, iterations] = sequence(required(params, 'PBE parameters'), 'PBE parameters', 2, 2);
  return { salt: octets(salt!, 'PBE salt'), iterations: checkIterations(integer(iterations!, 'PBE iterations'), limits, what) };
}

/** PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, encryptionScheme AlgorithmIdentifier } (RFC 8018 Appendix A.4) */
function readPbes2(params: Asn1, limits: SourceLimits, what: string): EncryptionParams | OpenSslDecryption {
  const [kdfNode, schemeNode] = sequence(params, 'PBES2-params', 2, 2);
  const kdf = algorithmIdentifier(kdfNode!, 'key-derivation function');
  if (kdf.oid === SCRYPT) {
    checkScryptCost(kdf.params, limits, what);
    return { scheme: 'openssl', algorithm: describe(SCRYPT) };
  }
  const { keyLength, ...pbkdf2 } = readPbkdf2(kdf, limits, what);
  const { oid: schemeOid, params: ivNode } = algorithmIdentifier(schemeNode!, 'PBES2 encryption scheme');
  const cipher = PBES2_CIPHERS[schemeOid];
  if (!cipher) return { scheme: 'openssl', algorithm: `PBES2 with ${describe(schemeOid)}` };
  const sizes = CBC_CIPHERS[cipher];
  if (keyLength !== undefined && keyLength !== sizes.keyLength) throw malformed(`a PBES2 key length of ${keyLength} for ${cipher}`);
  return { scheme: 'pbes2', kdf: pbkdf2, cipher, iv: checkLength(octets(required(ivNode, 'IV'), 'IV'), sizes.ivLength, 'IV') };
}

/**
 * PBKDF2-params ::= SEQUENCE { salt OCTET STRING, iterationCount INTEGER, keyLength INTEGER OPTIONAL,
 *   prf AlgorithmIdentifier DEFAULT hmacWithSHA1 } (RFC 8018 Appendix A.2)
 */
function readPbkdf2(
  kdf: { oid: string; params: Asn1 | undefined },
  limits: SourceLimits,
  what: string,
): Pbkdf2Params & { keyLength: number | undefined } {
  if (kdf.oid !== PBKDF2) throw unsupportedAlgorithm(describe(kdf.oid), what);
  const [salt, iterationCount, ...rest] = sequence(required(kdf.params, 'PBKDF2 parameters'), 'PBKDF2-params', 2, 4);
  const iterations = checkIterations(integer(iterationCount!, 'PBKDF2 iterations'), limits, what); // before the PRF: OpenSSL knows more
  if (!isUniversal(salt!, Type.OCTETSTRING)) throw unsupportedAlgorithm('PBKDF2 with a salt from another source', what);
  const keyLengthNode = rest[0] && isUniversal(rest[0], Type.INTEGER) ? rest.shift() : undefined;
  const keyLength = keyLengthNode && integer(keyLengthNode, 'PBKDF2 key length');
  // Bound the derived length: PBKDF2's cost grows with it.
  if (keyLength !== undefined && (keyLength < 1 || keyLength > 64)) throw malformed(`a PBKDF2 key length of ${keyLength}`);
  const [prfNode, extra] = rest;
  if (extra) throw malformed('PBKDF2-params has extra fields');
  const prfOid = prfNode && algorithmIdentifier(prfNode, 'PBKDF2 PRF').oid;
  const prf = prfOid === undefined ? 'sha1' : HMACS[prfOid];
  if (!prf) throw unsupportedAlgorithm(`PBKDF2 with ${describe(prfOid!)}`, what);
  return { salt: octets(salt!, 'PBKDF2 salt'), iterations, keyLength, prf };
}

/**
 * scrypt-params ::= SEQUENCE { salt OCTET STRING, costParameter INTEGER, blockSize INTEGER,
 *   parallelizationParameter INTEGER, keyLength INTEGER OPTIONAL } (RFC 7914 §7.1).
 * Only the cost N·r·p is checked; OpenSSL, which derives the key, checks the rest.
 */
function checkScryptCost(params: Asn1 | undefined, limits: SourceLimits, what: string): void {
  const [, n, r, p] = sequence(required(params, 'scrypt parameters'), 'scrypt-params', 4, 5);
  checkIterations(integer(n!, 'scrypt cost parameter') * integer(r!, 'scrypt block size') * integer(p!, 'scrypt parallelization parameter'), limits, what);
}

/**
 * Read the parameters of PBMAC1 (RFC 9579 §3, RFC 8018 §7.1):
 * PBMAC1-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, messageAuthScheme AlgorithmIdentifier }
 * (RFC 8018 Appendix A.5), with PBKDF2 and an HMAC of SHA-1 or SHA-2.
 *
 * @param what - what the MAC protects, for messages (see the module)
 * @throws {@link CredentialError} `ERR_ITERATION_LIMIT`, `ERR_MALFORMED`, `ERR_UNSUPPORTED_FORMAT`
 */
export function readPbmac1(params: Asn1 | undefined, limits: SourceLimits, what: string): Pbmac1Params {
  const [kdfNode, macNode] = sequence(required(params, 'PBMAC1 parameters'), 'PBMAC1-params', 2, 2);
  const { keyLength, ...kdf } = readPbkdf2(algorithmIdentifier(kdfNode!, 'key-derivation function'), limits, what);
  // RFC 9579 §3: the key length must be present.
  if (keyLength === undefined) throw malformed('the PBMAC1 key derivation has no key length (RFC 9579 §3 requires one)');
  const { oid } = algorithmIdentifier(macNode!, 'PBMAC1 message authentication scheme');
  const hmac = HMACS[oid];
  if (!hmac) throw unsupportedAlgorithm(describe(oid), what);
  return { scheme: 'pbmac1', kdf, keyLength, hmac };
}

/**
 * `iterations`, checked to be at least 1 and at most `limits.maxIterations`.
 *
 * @param what - what the derivation protects, for messages (see the module)
 * @throws {@link CredentialError} `ERR_ITERATION_LIMIT`, `ERR_MALFORMED`
 */
export function checkIterations(iterations: number, limits: SourceLimits, what: string): number {
  if (iterations < 1) throw malformed(`an iteration count of ${iterations}`);
  if (iterations > limits.maxIterations) {
    throw new CredentialError(
      'ERR_ITERATION_LIMIT',
      `${what} asks for ${iterations} key-derivation iterations; the limit is ${limits.maxIterations}. Raise maxIterations only for input you trust.`,
    );
  }
  return iterations;
}

/** An algorithm as messages name it: `pbeWithSHAAnd128BitRC4 (1.2.840.113549.1.12.1.1)`, or `the algorithm <OID>`. */
export function describe(oid: string): string {
  const pbe = PBE[oid];
  const name = typeof pbe === 'object' ? pbe.name : NAMES[oid];
  return name ? `${name} (${oid})` : `the algorithm ${oid}`;
}

/**
 * `ERR_UNSUPPORTED_FORMAT` for an algorithm this package reads but does not run.
 *
 * @param algorithm - as {@link describe} names it
 * @param what - what it protects, for messages (see the module)
 */
export function unsupportedAlgorithm(algorithm: string, what: string, cause?: unknown): CredentialError {
  return new CredentialError(
    'ERR_UNSUPPORTED_FORMAT',
    `${what} uses ${algorithm}, which is not supported. ` +
      'Re-export a PKCS#12 file with AES, e.g. `openssl pkcs12 -export -keypbe AES-256-CBC -certpbe AES-256-CBC -macalg sha256`.',
    cause === undefined ? undefined : { cause },
  );
}
