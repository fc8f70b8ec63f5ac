// How each library is set up against the same HTTPS token endpoint (the
// devserver's, started with `tls`), as a user of it would write it. The
// libraries are passed in (already imported) so the figures can time their
// import. Both sign PS256 assertions with an `x5t#S256` header (ours adds
// `x5t`), both keep an in-memory token cache.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Ours: a PEM bundle path, the Entra authority host.
 *
 * @param {typeof import('@x/token')} lib
 * @param {object} endpoint - { origin, tenantId, clientId } of the https devserver
 * @param {string} pemPath - certificate + key
 */
export function ourCredential(lib, endpoint, pemPath) {
  return new lib.ClientCertificateCredential(endpoint.tenantId, endpoint.clientId, pemPath, { authorityHost: endpoint.origin });
}

/**
 * MSAL Node: MSAL takes the private key as PEM text and the certificate's
 * SHA-256 thumbprint in hex, so the user reads the file and computes it
 * (counted in the first-token figure, as it is work ours does too).
 * `authorityMetadata` + `cloudDiscoveryMetadata` keep it off the internet
 * (no instance discovery, no openid-configuration request).
 *
 * @param {typeof import('@azure/msal-node')} msal
 * @param {object} endpoint - { origin, host, tenantId, clientId, metadata } of the https devserver
 * @param {string} pemPath - certificate + key
 */
export function msalApplication(msal, endpoint, pemPath) {
  const pem = readFileSync(pemPath, 'utf8');
  const privateKey = pem.match(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/)[0];
  const thumbprintSha256 = new X509Certificate(pem).fingerprint256.replaceAll(':', '');
  return new msal.ConfidentialClientApplication({
    auth: {
      clientId: endpoint.clientId,
      authority: `${endpoint.origin}/${endpoint.tenantId}`,
      clientCertificate: { thumbprintSha256, privateKey },
      knownAuthorities: [endpoint.host],
      authorityMetadata: JSON.stringify(endpoint.metadata),
      cloudDiscoveryMetadata: JSON.stringify({
        tenant_discovery_endpoint: `${endpoint.origin}/${endpoint.tenantId}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: endpoint.host, preferred_cache: endpoint.host, aliases: [endpoint.host] }],
      }),
    },
  });
}

/** MSAL's equivalent of `getToken(scope)`. */
export function msalGetToken(app, scope) {
  return app.acquireTokenByClientCredential({ scopes: [scope] });
}
