import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { CredentialError } from '../errors.js';
import { forge, integer, octets, sequence, toDer, type Asn1 } from './asn1.js';

/**
 * A private key from a parsed PrivateKeyInfo (RFC 5208 §5) or
 * OneAsymmetricKey (RFC 5958 §2). Node 20's OpenSSL 3.0 reads only version 1
 * (v1); version 2, in which BouncyCastle writes Ed25519 keys with the optional
 * `[1] publicKey`, is re-encoded as version 1 without it, once that public
 * key is checked to be the one the private key gives (their
 * SubjectPublicKeyInfo, RFC 5280 §4.1.2.7, compared).
 *
 * @param what - the key, as the subject of messages: `A key bag of the PKCS#12 file`
 * @throws {@link CredentialError} `ERR_MALFORMED` when it is not a PrivateKeyInfo; `ERR_UNSUPPORTED_KEY` when OpenSSL
 *   cannot read the key; `ERR_KEY_MISMATCH` when its publicKey is not the private key's
 */
export function readPrivateKey(info: Asn1, what: string): KeyObject {
  const [version, ...fields] = sequence(info, 'PrivateKeyInfo', 3, 5);
  const { Class, Type, create } = forge().asn1;
  const v2 = integer(version!, 'PrivateKeyInfo version') === 1;
  const publicKey = v2 ? fields.find((f) => f.tagClass === Class.CONTEXT_SPECIFIC && f.type === 1) : undefined;
  const v1 = [v2 ? create(Class.UNIVERSAL, Type.INTEGER, false, '\x00') : version!, ...fields.filter((f) => f !== publicKey)];
  const key = privateKey(toDer(create(Class.UNIVERSAL, Type.SEQUENCE, true, v1)), what);
  const spki = publicKey && toDer(create(Class.UNIVERSAL, Type.SEQUENCE, true, [fields[0]!, create(Class.UNIVERSAL, Type.BITSTRING, false, octets(publicKey, 'publicKey', 1).toString('latin1'))]));
  if (spki && !spki.equals(createPublicKey(key).export({ type: 'spki', format: 'der' }))) {
    throw new CredentialError('ERR_KEY_MISMATCH', `${what} holds a public key that is not its private key's.`);
  }
  return key;
}

function privateKey(der: Buffer, what: string): KeyObject {
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw new CredentialError('ERR_UNSUPPORTED_KEY', `${what} holds a private key OpenSSL cannot read.`, { cause });
  } finally {
    der.fill(0);
  }
}
