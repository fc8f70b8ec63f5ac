// A throwaway self-signed RSA certificate for the demo and the examples,
// written as a passphrase-protected PFX in the encoding OpenSSL 3's
// `openssl pkcs12 -export` writes by default — without the openssl binary.
// The writer is the one `x-assertion create-certificate` uses (@x/cli/self-signed).
// Real deployments get their certificate from a CA, or make it with
// `x-assertion create-certificate`; see the README.
import { createSelfSignedPfx } from '@x/cli/self-signed';

/**
 * @param {object} options
 * @param {string} options.commonName - the subject CN
 * @param {string} options.passphrase - protects the PFX
 * @param {number} [options.days=2] - validity, in days from now
 * @returns {{ pfx: Buffer, certificatePem: string, encoding: string }}
 *   `encoding` says how the PFX is protected, for the demo's trace
 */
export function makeSelfSignedPfx({ commonName, passphrase, days = 2 }) {
  const { pfx, certificatePem, encoding } = createSelfSignedPfx({ subject: [['CN', commonName]], passphrase, days });
  return { pfx, certificatePem, encoding };
}
