import { sign, verify, type KeyObject, type X509Certificate } from 'node:crypto';
import { CredentialError } from '../errors.js';
import type { SourceCertificate, SourceKey } from '../sources/types.js';
import { parseCertificate } from '../sources/pem.js';

/**
 * The one leaf rule, for every loader and every CLI command:
 * - with a private key, the leaf is the certificate that carries its public
 *   key, wherever it stands; of several (a renewal kept beside the original),
 *   a currently valid one, then the one whose PKCS#12 `localKeyId` names the
 *   key, then the latest `notAfter`. The other certificates of that key are
 *   left out of the chain: they are not issuers.
 * - without a key, the end-entity certificate: the one that issued no other
 *   certificate of the bundle, and a CA certificate only when it is alone.
 *
 * The chain is the leaf, then the remaining certificates in input order.
 *
 * @module
 */

/** A certificate of the input, parsed once. */
export interface Candidate extends SourceCertificate {
  readonly x509: X509Certificate;
}

/** Parse each certificate once for the leaf rule. */
export function candidates(certificates: readonly SourceCertificate[]): Candidate[] {
  return certificates.map((c) => ({ ...c, x509: parseCertificate(c.der) }));
}

/** A key paired with its leaf, and the chain (leaf first, DER). */
export interface Pairing {
  readonly key: SourceKey;
  readonly chain: readonly Uint8Array[];
}

/**
 * Pair the first key (in input order) that a certificate carries with its
 * leaf.
 *
 * @param now - the time "currently valid" refers to
 * @throws {@link CredentialError} `ERR_KEY_MISMATCH` when no certificate carries any key, `ERR_MALFORMED`
 */
export function pairLeaf(keys: readonly SourceKey[], parsed: readonly Candidate[], now: Date): Pairing {
  for (const key of keys) {
    const matches = parsed.filter((c) => carriesKey(c.x509, key.key));
    if (matches.length === 0) continue;
    const leaf = matches.reduce((best, c) => (better(rank(c, key, now), rank(best, key, now)) ? c : best));
    if (!signsFor(key.key, leaf.x509)) continue;
    return { key, chain: [leaf.der, ...parsed.filter((c) => !matches.includes(c)).map((c) => c.der)] };
  }
  throw new CredentialError(
    'ERR_KEY_MISMATCH',
    `None of the ${parsed.length} certificate(s) carries the public key of the private key: the key and certificate do not belong together.`,
  );
}

/** Preference among certificates of one key, compared in order: valid now, named by `localKeyId`, latest `notAfter`. */
function rank(c: Candidate, key: SourceKey, now: Date): [number, number, number] {
  const notAfter = Date.parse(c.x509.validTo) || 0;
  const valid = Date.parse(c.x509.validFrom) <= now.getTime() && now.getTime() <= notAfter ? 1 : 0;
  const named = key.localKeyId && c.localKeyId && Buffer.from(c.localKeyId).equals(key.localKeyId) ? 1 : 0;
  return [valid, named, notAfter];
}

function better(a: readonly number[], b: readonly number[]): boolean {
  const i = a.findIndex((v, j) => v !== b[j]);
  return i !== -1 && a[i]! > b[i]!;
}

/**
 * The end-entity certificate of a bundle without a key, then the others in
 * input order.
 *
 * @throws {@link CredentialError} `ERR_AMBIGUOUS_LEAF`, `ERR_MALFORMED`
 */
export function endEntityChain(parsed: readonly Candidate[]): Uint8Array[] {
  if (parsed.length === 1) return [parsed[0]!.der];
  const distinct = parsed.filter((c, i) => parsed.findIndex((o) => o.x509.fingerprint256 === c.x509.fingerprint256) === i);
  const issuedNothing = distinct.filter((c) => !c.x509.ca && !distinct.some((o) => o !== c && o.x509.checkIssued(c.x509)));
  if (issuedNothing.length !== 1) {
    throw new CredentialError(
      'ERR_AMBIGUOUS_LEAF',
      `The ${parsed.length} certificates hold ${issuedNothing.length === 0 ? 'no' : issuedNothing.length} end-entity certificates (ones that issued no other certificate of the bundle): give the private key too, or only the leaf and its issuers.`,
    );
  }
  const leaf = issuedNothing[0]!;
  return [leaf.der, ...parsed.filter((c) => c.x509.fingerprint256 !== leaf.x509.fingerprint256).map((c) => c.der)];
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
