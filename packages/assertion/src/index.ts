/**
 * `@x/assertion`: load an X.509 certificate and its private key (PEM,
 * PFX/PKCS#12), compute its thumbprints, and sign or verify JWT client
 * assertions (RFC 7523 §2.2, Microsoft Entra ID certificate credentials).
 * No network code.
 *
 * @packageDocumentation
 */
export { CredentialError, CredentialErrorCode, isCredentialError } from './errors.js';
export { algorithmsForKey, type JwsAlgorithm, type KeyType, type NamedCurve } from './algorithms.js';
export {
  CertificateCredential,
  CertificateInfo,
  type CertificateJwk,
  type Integrity,
  type Thumbprints,
} from './credential/certificate.js';
export { DEFAULT_MAX_ITERATIONS, MAX_INPUT_BYTES } from './sources/types.js';
export { detectContainer, readCredentialFile, readPassphraseFile, type CredentialInput } from './credential/input.js';
export { loadCredential, loadCredentialFile, loadCertificate, type LoadOptions, type LoadFileOptions } from './credential/load.js';
export { toSigner, type Signer, type ExternalSigner } from './signer.js';
export {
  createClientAssertion,
  prepareClientAssertion,
  CLIENT_ASSERTION_TYPE,
  MAX_ASSERTION_LIFETIME_SECONDS,
  type ClientAssertionOptions,
  type PreparedClientAssertion,
  type SignOverrides,
  type ThumbprintHeader,
} from './assertion/sign.js';
export {
  verifyClientAssertion,
  type VerificationReport,
  type VerificationProblem,
  type VerifyExpectations,
} from './assertion/verify.js';
