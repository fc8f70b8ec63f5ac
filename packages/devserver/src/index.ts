/**
 * `@x/devserver`: real servers on loopback (`127.0.0.1`, random port) for
 * the demo, the examples and the tests.
 *
 * - {@link startOidcServer}: oidc-provider 8 as an authorization server for
 *   the client credentials grant with `private_key_jwt` and JWT access tokens.
 * - {@link startEntraServer}: a token endpoint that behaves as Microsoft
 *   Entra ID documents (v1 and v2, AADSTS errors), with faults on demand.
 * - {@link startResourceServer}: an API that validates bearer JWTs.
 *
 * No mocks: every server verifies what it receives. Each serves plain HTTP,
 * or HTTPS when given a certificate (`tls`). Close every server you start.
 *
 * @packageDocumentation
 */
export type { RecordedRequest } from './record.js';
export type { LoopbackTls } from './http.js';
export {
  startOidcServer,
  type OidcClient,
  type OidcServer,
  type OidcServerError,
  type OidcServerOptions,
} from './oidc.js';
export { startEntraServer, type EntraClient, type EntraServer, type EntraServerOptions } from './entra.js';
export type { EntraFault } from './entra-faults.js';
export type { EntraErrorCode } from './entra-errors.js';
export {
  startResourceServer,
  type ResourceServerHandle,
  type ResourceServerOptions,
} from './resource.js';
export { startCaeResource, type CaeResource, type CaeResourceOptions } from './cae-resource.js';
export {
  BindingError,
  certificateThumbprintS256,
  verifyCertificateBinding,
  verifyDpopProof,
  type BindingErrorCode,
  type DpopCheck,
} from './binding-verify.js';
export { startBoundResourceServer, type BoundResourceServer, type BoundResourceServerOptions } from './bound-resource.js';
export { startEntraMtlsServer, type EntraMtlsServer, type EntraMtlsServerOptions } from './entra-mtls.js';
export { startBoundOidcServer, type BoundOidcServer, type BoundOidcServerOptions } from './oidc-bound.js';
