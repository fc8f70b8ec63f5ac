// A throwaway self-signed RSA certificate for the demo and the examples,
// written as a passphrase-protected PFX in the encoding OpenSSL 3's
// `openssl pkcs12 -export` writes by default — without the openssl binary:
// the key pair and all the cryptography come from node:crypto, the
// certificate and the ASN.1 structure from node-forge.
// Real deployments get their certificate from a CA or from
// `openssl req -x509` / New-SelfSignedCertificate; see the README.
import { createCipheriv, createHash, createHmac, createPrivateKey, generateKeyPairSync, pbkdf2Sync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

const ITERATIONS = 2048; // OpenSSL 3's default (PKCS12_DEFAULT_ITER)

/**
 * @param {object} options
 * @param {string} options.commonName - the subject CN
 * @param {string} options.passphrase - protects the PFX
 * @param {number} [options.days=2] - validity, in days from now
 * @returns {{ pfx: Buffer, certificatePem: string, encoding: string }}
 *   `encoding` says how the PFX is protected, for the demo's trace
 */
export function makeSelfSignedPfx({ commonName, passphrase, days = 2 }) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`; // positive, 16 bytes
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  const name = [{ name: 'commonName', value: commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  const certificateDer = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');

  return {
    pfx: writePfx(createPrivateKey(privateKey), certificateDer, passphrase),
    certificatePem: forge.pki.certificateToPem(cert),
    encoding:
      `PKCS#12 as OpenSSL 3 writes it: key and certificate bags PBES2 (PBKDF2-HMAC-SHA256, ${ITERATIONS} iterations, AES-256-CBC), ` +
      'HMAC-SHA256 MAC',
  };
}

// --- A minimal PKCS#12 writer (RFC 7292) -------------------------------------

const { asn1 } = forge;
const { UNIVERSAL, CONTEXT_SPECIFIC } = asn1.Class;
const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  localKeyId: '1.2.840.113549.1.9.21',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  hmacWithSHA256: '1.2.840.113549.2.9',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
  sha256: '2.16.840.1.101.3.4.2.1',
};
const seq = (...items) => asn1.create(UNIVERSAL, asn1.Type.SEQUENCE, true, items);
const set = (...items) => asn1.create(UNIVERSAL, asn1.Type.SET, true, items);
const oid = (id) => asn1.create(UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(id).getBytes());
const octets = (bytes) => asn1.create(UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes.toString('binary'));
const integer = (n) => asn1.create(UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(n).getBytes());
const nullValue = () => asn1.create(UNIVERSAL, asn1.Type.NULL, false, '');
const explicit0 = (node) => asn1.create(CONTEXT_SPECIFIC, 0, true, [node]);
const toDer = (node) => Buffer.from(asn1.toDer(node).getBytes(), 'binary');
const fromDer = (bytes) => asn1.fromDer(bytes.toString('binary'));

/** PFX ::= { version 3, authSafe (data), macData } (RFC 7292 §4), OpenSSL 3's default choices. */
function writePfx(key, certificateDer, passphrase) {
  const localKeyId = set(seq(oid(OID.localKeyId), set(octets(createHash('sha1').update(certificateDer).digest()))));
  const certBag = seq(oid(OID.certBag), explicit0(seq(oid(OID.x509Certificate), explicit0(octets(certificateDer)))), localKeyId);
  // Node (OpenSSL 3) writes the EncryptedPrivateKeyInfo with PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC, 2048 iterations.
  const encryptedKey = key.export({ format: 'der', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase });
  const keyBag = seq(oid(OID.pkcs8ShroudedKeyBag), explicit0(fromDer(encryptedKey)), localKeyId);

  const { algorithm, ciphertext } = pbes2Encrypt(toDer(seq(certBag)), passphrase);
  const encryptedCertificates = seq(
    oid(OID.encryptedData),
    explicit0(seq(integer(0), seq(oid(OID.data), algorithm, asn1.create(CONTEXT_SPECIFIC, 0, false, ciphertext.toString('binary'))))),
  );
  const plainKeys = seq(oid(OID.data), explicit0(octets(toDer(seq(keyBag)))));
  const authSafe = toDer(seq(encryptedCertificates, plainKeys));

  // MAC (RFC 7292 §4, Appendix B): HMAC-SHA256 keyed by the PKCS#12 KDF (ID 3) — node-forge's KDF, with SHA-256.
  const macSalt = randomBytes(8);
  const macKey = forge.pkcs12.generateKey(passphrase, forge.util.createBuffer(macSalt.toString('binary')), 3, ITERATIONS, 32, forge.md.sha256.create());
  const mac = createHmac('sha256', Buffer.from(macKey.getBytes(), 'binary')).update(authSafe).digest();
  const macData = seq(seq(seq(oid(OID.sha256), nullValue()), octets(mac)), octets(macSalt), integer(ITERATIONS));

  return toDer(seq(integer(3), seq(oid(OID.data), explicit0(octets(authSafe))), macData));
}

/** PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC (RFC 8018 §6.2), the password as UTF-8 (as OpenSSL 3). */
function pbes2Encrypt(plaintext, passphrase) {
  const salt = randomBytes(8);
  const iv = randomBytes(16);
  const key = pbkdf2Sync(Buffer.from(passphrase, 'utf8'), salt, ITERATIONS, 32, 'sha256');
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const kdf = seq(oid(OID.pbkdf2), seq(octets(salt), integer(ITERATIONS), seq(oid(OID.hmacWithSHA256), nullValue())));
  const algorithm = seq(oid(OID.pbes2), seq(kdf, seq(oid(OID.aes256Cbc), octets(iv))));
  return { algorithm, ciphertext };
}
