/**
 * `@x/pkcs11`: sign JWT client assertions with a private key that never
 * leaves a PKCS#11 token (HSM, smart card, TPM via tpm2-pkcs11), named by an
 * RFC 7512 PKCS#11 URI. The signer is an `@x/assertion` `ExternalSigner`.
 *
 * @example
 * ```ts
 * const signer = await openPkcs11Signer('pkcs11:token=daemon;object=client-key;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin');
 * const assertion = await createClientAssertion(signer, { clientId, audience: tokenEndpoint });
 * await signer.close();
 * ```
 *
 * @packageDocumentation
 */
export { openPkcs11Signer, type Pkcs11Signer, type Pkcs11SignerOptions } from './signer.js';
export { parsePkcs11Uri, Pkcs11Uri, type Pkcs11ObjectType } from './uri.js';
export { Pkcs11CredentialError } from './errors.js';
