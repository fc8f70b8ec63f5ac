import { CredentialError } from '../errors.js';
import type { CertificateCredential } from './certificate.js';

/**
 * What a loaded credential must satisfy beyond being a matching pair (the key
 * types themselves are checked when the certificate is read).
 *
 * @param now - the time the validity period is checked against; `undefined` skips that check
 * @throws {@link CredentialError} `ERR_WEAK_KEY`, `ERR_CERT_EXPIRED`, `ERR_CERT_NOT_YET_VALID`
 */
export function checkPolicy(credential: CertificateCredential, now: Date | undefined): void {
  if (credential.keyType === 'RSA' && credential.keySize < 2048) {
    throw new CredentialError(
      'ERR_WEAK_KEY',
      `The RSA key has ${credential.keySize} bits; at least 2048 are required (NIST SP 800-131A, Microsoft Entra ID).`,
    );
  }
  if (now === undefined) return;
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
