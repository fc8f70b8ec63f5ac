// Types for the plain-JavaScript helper shared by the examples (examples/shared/self-signed.mjs).
declare module '@x/examples-shared' {
  /** A throwaway self-signed RSA certificate, written as a passphrase-protected PFX. */
  export function makeSelfSignedPfx(options: { commonName: string; passphrase: string; days?: number }): {
    pfx: Buffer;
    certificatePem: string;
    encoding: string;
  };
}
