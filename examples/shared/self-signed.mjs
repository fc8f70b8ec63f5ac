// A throwaway self-signed RSA certificate for the demo and the examples,
// written as a passphrase-protected PFX without the openssl binary: the key
// pair comes from node:crypto, the certificate and the PKCS#12 container from
// node-forge. Real deployments get their certificate from a CA or from
// `openssl req -x509` / New-SelfSignedCertificate; see the README.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

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
  const key = forge.pki.privateKeyFromPem(privateKey);
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
  cert.sign(key, forge.md.sha256.create());

  // PBES2: PBKDF2-HMAC-SHA256 (2048 iterations) + AES-256-CBC for the key bag,
  // as OpenSSL 3 writes it; node-forge adds its SHA-1 MAC.
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, [cert], passphrase, {
    algorithm: 'aes256',
    prfAlgorithm: 'sha256',
    count: 2048,
    friendlyName: commonName,
  });
  return {
    pfx: Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary'),
    certificatePem: forge.pki.certificateToPem(cert),
    encoding: 'PKCS#12: key bag PBES2 (PBKDF2-HMAC-SHA256, 2048 iterations, AES-256-CBC), HMAC-SHA1 MAC',
  };
}
