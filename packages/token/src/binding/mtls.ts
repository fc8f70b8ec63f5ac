/**
 * The TLS client side of RFC 8705: an undici dispatcher whose connections present the credential's
 * certificate and private key. Used for `tls_client_auth` / `self_signed_tls_client_auth` (§2) at the token
 * endpoint (or its `mtls_endpoint_aliases` entry, §5) and for presenting certificate-bound tokens (§3).
 * The key must be in memory as PEM: a PKCS#11 key cannot drive Node's TLS handshake.
 */
import { Agent } from 'undici';
import type { ConnectionOptions } from 'node:tls';

/** The client certificate material, PEM (certificate chain leaf first, then intermediates). */
export interface MtlsClientCertificate {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  /** Extra trust anchors for the server (PEM); Node's defaults otherwise. */
  readonly ca?: string | readonly string[];
}

/**
 * Creates an undici `Agent` to pass as `dispatcher` to `fetch`. The caller closes it (`agent.close()`).
 * Server certificates are always verified (`rejectUnauthorized` is never turned off here).
 */
export function createMtlsDispatcher(client: MtlsClientCertificate): Agent {
  const connect: ConnectionOptions = { cert: client.certificatePem, key: client.privateKeyPem };
  if (client.ca !== undefined) connect.ca = typeof client.ca === 'string' ? client.ca : [...client.ca];
  return new Agent({ connect });
}
