/**
 * An Entra-shaped mTLS proof-of-possession token endpoint on loopback, as MSAL.NET `WithMtlsProofOfPossession()`
 * and MSAL Go use it: `POST /{tenant}/oauth2/v2.0/token` over mutual TLS (the `mtlsauth.{region}.login.microsoft.com`
 * host in Azure), `grant_type=client_credentials`, `client_id`, `scope`, `token_type=mtls_pop`, no
 * `client_assertion`; the client is authenticated by its TLS certificate and the answer is
 * `token_type: mtls_pop` with a JWT bound to it (`cnf.x5t#S256`, RFC 8705 §3).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

import { certificateThumbprintS256 } from './binding-verify.js';
import { LOOPBACK, readBody, sendJson, type LoopbackTls } from './http.js';

/** Options of {@link startEntraMtlsServer}. */
export interface EntraMtlsServerOptions {
  /** The tenant in the path. */
  tenant: string;
  /** Registered clients: `client_id` → the x5t#S256 of the certificate registered for it. */
  clients: Record<string, string>;
  /** Server certificate and key (PEM); must name `IP:127.0.0.1`. */
  tls: LoopbackTls;
  /** Access token lifetime, in seconds. @defaultValue 3600 */
  accessTokenTtlSeconds?: number;
}

/** A running {@link startEntraMtlsServer}. */
export interface EntraMtlsServer {
  /** `https://127.0.0.1:PORT/{tenant}/oauth2/v2.0/token`. */
  tokenEndpoint: string;
  /** The public key verifying issued tokens (RS256). */
  publicJwk: JWK;
  /** Token requests received (count them in tests). */
  requestCount: number;
  close(): Promise<void>;
}

/** Starts the endpoint on 127.0.0.1 (random port); it asks every connection for a client certificate. */
export async function startEntraMtlsServer(options: EntraMtlsServerOptions): Promise<EntraMtlsServer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const publicJwk = await exportJWK(publicKey);
  const path = `/${options.tenant}/oauth2/v2.0/token`;
  const handle: EntraMtlsServer = { tokenEndpoint: '', publicJwk, requestCount: 0, close: async () => {} };
  const server = createServer(
    { cert: options.tls.cert, key: options.tls.key, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      handle.requestCount += 1;
      void (async () => {
        if (req.method !== 'POST' || req.url !== path) return sendJson(res, 404, { error: 'not_found' });
        const form = new URLSearchParams((await readBody(req, 64 * 1024)).toString('utf8'));
        const refuse = (error: string, description: string): void =>
          sendJson(res, 400, { error, error_description: description });
        if (form.get('grant_type') !== 'client_credentials') return refuse('unsupported_grant_type', 'client_credentials only');
        if (form.get('token_type') !== 'mtls_pop') return refuse('invalid_request', 'token_type must be mtls_pop');
        if (form.has('client_assertion')) return refuse('invalid_request', 'client_assertion is not allowed with mTLS');
        const clientId = form.get('client_id') ?? '';
        const raw = (req.socket as TLSSocket).getPeerCertificate().raw as Buffer | undefined;
        const presented = raw === undefined || raw.length === 0 ? undefined : certificateThumbprintS256(raw);
        if (presented === undefined || options.clients[clientId] !== presented) {
          return sendJson(res, 401, { error: 'invalid_client', error_description: 'client certificate not registered' });
        }
        const expiresIn = options.accessTokenTtlSeconds ?? 3600;
        const accessToken = await new SignJWT({
          appid: clientId,
          tid: options.tenant,
          scp: form.get('scope') ?? '',
          cnf: { 'x5t#S256': presented },
        })
          .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
          .setIssuer(`https://login.microsoftonline.com/${options.tenant}/v2.0`)
          .setSubject(clientId)
          .setJti(randomUUID())
          .setIssuedAt()
          .setExpirationTime(`${expiresIn}s`)
          .sign(privateKey);
        sendJson(res, 200, { token_type: 'mtls_pop', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: accessToken });
      })().catch((err: unknown) => sendJson(res, 500, { error: 'server_error', error_description: String(err) }));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  handle.tokenEndpoint = `https://${LOOPBACK}:${(server.address() as AddressInfo).port}${path}`;
  let closing: Promise<void> | undefined;
  handle.close = () => (closing ??= new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  }));
  return handle;
}
