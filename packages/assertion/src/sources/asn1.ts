import { createRequire } from 'node:module';
import type forgeModule from 'node-forge';
import { CredentialError } from '../errors.js';

/**
 * Reading untrusted ASN.1 (X.690) on node-forge's tree: the one parser of
 * the PKCS#12 and PKCS#8 structures this package walks itself. Each helper
 * checks the tag it expects and throws `ERR_MALFORMED` naming the field
 * (`what`), never copying input bytes into the message.
 *
 * @module
 */

export type Asn1 = forgeModule.asn1.Asn1;

const requireModule = createRequire(import.meta.url);
let loaded: typeof forgeModule | undefined;

/**
 * The parts of node-forge used here (ASN.1, RC2, util), loaded on first use
 * (it is CommonJS, so synchronously): a credential from PEM with an
 * unencrypted key never needs them. Only these parts: all of node-forge
 * takes ~80 ms to load, blocking the event loop, these ~12 ms.
 */
export function forge(): typeof forgeModule {
  return (loaded ??= ['asn1', 'rc2', 'forge'].map((part) => requireModule(`node-forge/lib/${part}`)).at(-1) as typeof forgeModule);
}

/** Universal tag numbers (X.690 §8.1.2.2, ITU-T X.680 §8.4), as forge's `asn1.Type` has them. */
export const Type = { INTEGER: 2, OCTETSTRING: 4, OID: 6, SEQUENCE: 16, SET: 17 } as const;
type UniversalTag = (typeof Type)[keyof typeof Type];
/** Tag classes (X.690 §8.1.2.2), as forge's `asn1.Class` has them. */
const Class = { UNIVERSAL: 0x00, CONTEXT_SPECIFIC: 0x80 } as const;

/** forge's `fromDer` takes an options object; its type declaration only admits `strict`. */
type FromDer = (bytes: string, options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean }) => Asn1;

/** `ERR_MALFORMED`, for `detail`: a clause such as `the SafeBag is not a SEQUENCE`. */
export function malformed(detail: string, cause?: unknown): CredentialError {
  return new CredentialError('ERR_MALFORMED', `Malformed DER: ${detail}.`, cause === undefined ? undefined : { cause });
}

/**
 * Parse one DER or BER value (X.690 §8: indefinite lengths and constructed
 * strings allowed; forge caps the nesting depth).
 *
 * @param allowTrailingBytes - ignore what follows the value, as OpenSSL does when it reads a key
 * @throws {@link CredentialError} `ERR_MALFORMED`
 */
export function parseDer(bytes: Uint8Array, what: string, allowTrailingBytes = false): Asn1 {
  try {
    const binary = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    const fromDer = forge().asn1.fromDer as unknown as FromDer;
    return fromDer(binary, { strict: true, parseAllBytes: !allowTrailingBytes, decodeBitStrings: false });
  } catch (cause) {
    throw malformed(`${what} is not valid DER/BER (truncated or damaged)`, cause);
  }
}

/** The DER encoding of a parsed value. */
export function toDer(node: Asn1): Buffer {
  return Buffer.from(forge().asn1.toDer(node).getBytes(), 'latin1');
}

/** Whether `node` has the universal tag `type` (X.690 §8.1.2). */
export function isUniversal(node: Asn1, type: UniversalTag): boolean {
  return node.tagClass === Class.UNIVERSAL && node.type === type;
}

function constructed(node: Asn1, type: UniversalTag, what: string, min: number, max: number): Asn1[] {
  if (!isUniversal(node, type) || !Array.isArray(node.value)) throw malformed(`the ${what} is not a ${type === Type.SET ? 'SET' : 'SEQUENCE'}`);
  if (node.value.length < min || node.value.length > max) throw malformed(`the ${what} has ${node.value.length} fields`);
  return node.value;
}

/** The fields of a SEQUENCE, between `min` and `max` of them. */
export function sequence(node: Asn1, what: string, min = 0, max = Infinity): Asn1[] {
  return constructed(node, Type.SEQUENCE, what, min, max);
}

/** The elements of a SET (OF), between `min` and `max` of them. */
export function set(node: Asn1, what: string, min = 0, max = Infinity): Asn1[] {
  return constructed(node, Type.SET, what, min, max);
}

/** An OPTIONAL field that the context requires. */
export function required(node: Asn1 | undefined, what: string): Asn1 {
  if (!node) throw malformed(`no ${what}`);
  return node;
}

/** An OBJECT IDENTIFIER, in dotted form (X.690 §8.19). */
export function oid(node: Asn1, what: string): string {
  if (!isUniversal(node, Type.OID) || typeof node.value !== 'string') throw malformed(`the ${what} is not an OBJECT IDENTIFIER`);
  return forge().asn1.derToOid(node.value);
}

/** A non-negative INTEGER (X.690 §8.3; lossy above 2^53, which is far above any cap it is compared with). */
export function integer(node: Asn1, what: string): number {
  if (!isUniversal(node, Type.INTEGER) || typeof node.value !== 'string' || node.value.length === 0 || node.value.length > 16) {
    throw malformed(`the ${what} is not a valid INTEGER`);
  }
  const bytes = Buffer.from(node.value, 'latin1');
  if (bytes[0]! & 0x80) throw malformed(`the ${what} is negative`);
  return Number(BigInt(`0x${bytes.toString('hex')}`));
}

/** An OCTET STRING, or an IMPLICIT one tagged [contextTag]; the BER constructed form is concatenated (X.690 §8.7.3). */
export function octets(node: Asn1, what: string, contextTag?: number): Buffer {
  const tagged = contextTag !== undefined && node.tagClass === Class.CONTEXT_SPECIFIC && node.type === contextTag;
  if (!tagged && !isUniversal(node, Type.OCTETSTRING)) throw malformed(`the ${what} is not an OCTET STRING`);
  if (typeof node.value === 'string') return Buffer.from(node.value, 'latin1');
  return Buffer.concat(node.value.map((segment) => octets(segment, what)));
}

/** `bytes`, checked to be `length` bytes long. */
export function checkLength(bytes: Buffer, length: number, what: string): Buffer {
  if (bytes.length !== length) throw malformed(`the ${what} has ${bytes.length} bytes, not ${length}`);
  return bytes;
}

/** The value inside an EXPLICIT [tag]. */
export function explicit(node: Asn1, tag: number, what: string): Asn1 {
  const inner = node.tagClass === Class.CONTEXT_SPECIFIC && node.type === tag && Array.isArray(node.value) ? node.value : [];
  if (inner.length !== 1) throw malformed(`the ${what} is not an EXPLICIT [${tag}]`);
  return inner[0]!;
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL } (RFC 5280 §4.1.1.2) */
export function algorithmIdentifier(node: Asn1, what: string): { oid: string; params: Asn1 | undefined } {
  const [id, params] = sequence(node, what, 1, 2);
  return { oid: oid(id!, what), params };
}

/** ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY } (RFC 5652 §3) */
export function contentInfo(node: Asn1, what: string): { type: string; content: Asn1 } {
  const [type, content] = sequence(node, what, 2, 2);
  return { type: oid(type!, `${what} content type`), content: explicit(content!, 0, `${what} content`) };
}
