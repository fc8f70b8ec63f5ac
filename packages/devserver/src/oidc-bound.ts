/**
 * oidc-provider 8 behind an https server on 127.0.0.1 that requests client certificates, with RFC 8705
 * (`features.mTLS`: certificate-bound access tokens, self_signed_tls_client_auth, tls_client_auth) and
 * RFC 9449 (`features.dPoP`) enabled, for the client credentials grant.
 *
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import Provider, { type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

import { LOOPBACK, type LoopbackTls } from './http.js';

/** Options of {@link startBoundOidcServer}. */
export interface BoundOidcServerOptions {
  /** Client registrations as RFC 7591 metadata (token_endpoint_auth_method, jwks, tls_client_auth_subject_dn, …). */
  clients: ClientMetadata[];
  /** Server certificate and key (PEM, naming IP:127.0.0.1) plus the CA (PEM) trusted for tls_client_auth. */
  tls: LoopbackTls & { clientCa?: string };
  /** Demand a DPoP nonce (RFC 9449 §8) on the token endpoint. @defaultValue false */
  requireDpopNonce?: boolean;
  /** Publish `mtls_endpoint_aliases.token_endpoint` = `${issuer}/token?alias=mtls` in discovery (RFC 8705 §5). @defaultValue false */
  mtlsEndpointAlias?: boolean;
}

/** A running {@link startBoundOidcServer}. */
export interface BoundOidcServer {
  issuer: string;
  tokenEndpoint: string;
  jwksUri: string;
  /** Path and query of every request received, in order. */
  readonly paths: readonly string[];
  close(): Promise<void>;
}

function peer(ctx: KoaContextWithOIDC): TLSSocket {
  return ctx.req.socket as TLSSocket;
}

/** Starts the provider; access tokens are JWTs for `https://api.example.test`. */
export async function startBoundOidcServer(options: BoundOidcServerOptions): Promise<BoundOidcServer> {
  let callback: ReturnType<Provider['callback']> | undefined;
  const paths: string[] = [];
  const server = createServer(
    { cert: options.tls.cert, key: options.tls.key, ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      paths.push(req.url ?? '');
      return callback === undefined ? res.writeHead(503).end() : callback(req, res);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const issuer = `https://${LOOPBACK}:${(server.address() as AddressInfo).port}`;
  const resource = 'https://api.example.test';
  const configuration: Configuration = {
    clients: options.clients.map((client) => ({ grant_types: ['client_credentials'], response_types: [], redirect_uris: [], ...client })),
    ...(options.mtlsEndpointAlias === true ? { discovery: { mtls_endpoint_aliases: { token_endpoint: `${issuer}/token?alias=mtls` } } } : {}),
    clientAuthMethods: ['private_key_jwt', 'self_signed_tls_client_auth', 'tls_client_auth'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        getResourceServerInfo: () => ({ scope: 'api.read', audience: resource, accessTokenFormat: 'jwt' }),
      },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        selfSignedTlsClientAuth: true,
        tlsClientAuth: true,
        getCertificate: (ctx: KoaContextWithOIDC) => {
          const raw = peer(ctx).getPeerCertificate().raw as Buffer | undefined;
          return raw === undefined || raw.length === 0 ? undefined : new X509Certificate(raw).toString();
        },
        certificateAuthorized: (ctx: KoaContextWithOIDC) => peer(ctx).authorized,
        certificateSubjectMatches: (ctx: KoaContextWithOIDC, property: string, expected: string) =>
          property === 'tls_client_auth_subject_dn' && `CN=${String(peer(ctx).getPeerCertificate().subject.CN)}` === expected,
      },
      dPoP: { enabled: true, nonceSecret: Buffer.alloc(32, 7), requireNonce: () => options.requireDpopNonce ?? false },
    } as Configuration['features'],
  };
  const provider = new Provider(issuer, configuration);
  callback = provider.callback();
  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    jwksUri: `${issuer}/jwks`,
    paths,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
