/**
 * A protected resource for sender-constrained tokens on https://127.0.0.1: it asks every connection for a
 * client certificate and accepts a JWT access token only as its binding requires — `Authorization: Bearer`
 * (or `mtls_pop`) with `cnf.x5t#S256` only over a connection presenting that certificate (RFC 8705 §3),
 * `Authorization: DPoP` only with a valid proof for `cnf.jkt` (RFC 9449 §7.1), a plain Bearer token without
 * `cnf`. Optionally demands a DPoP nonce (§9). Refusals are 401 with `WWW-Authenticate`.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';

import { BindingError, verifyCertificateBinding, verifyDpopProof } from './binding-verify.js';
import { LOOPBACK, sendJson, type LoopbackTls } from './http.js';

/** Options of {@link startBoundResourceServer}. */
export interface BoundResourceServerOptions {
  /** The keys that sign access tokens (the authorization server's JWKS). */
  jwks: JSONWebKeySet;
  /** Server certificate and key (PEM, naming IP:127.0.0.1). */
  tls: LoopbackTls;
  /** Demand a server nonce in DPoP proofs (RFC 9449 §9). @defaultValue false */
  requireDpopNonce?: boolean;
  /** The resource's clock, seconds since the epoch (to see a proof as stale). @defaultValue Date.now() / 1000 */
  nowSeconds?: () => number;
}

/** A running {@link startBoundResourceServer}. */
export interface BoundResourceServer {
  /** `https://127.0.0.1:PORT`; any path answers. */
  url: string;
  /** Requests received, and the error code of each refusal in order (`ERR_CERT_MISMATCH`, `ERR_DPOP_REPLAY`, …). */
  readonly requests: number;
  readonly refusals: readonly string[];
  close(): Promise<void>;
}

/** Starts the resource; a 200 answers `{ sub, cnf, scheme }`. */
export async function startBoundResourceServer(options: BoundResourceServerOptions): Promise<BoundResourceServer> {
  const keys = createLocalJWKSet(options.jwks);
  const seen = new Set<string>();
  const nonce = randomUUID();
  const refusals: string[] = [];
  let requests = 0;
  const server = createServer({ cert: options.tls.cert, key: options.tls.key, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    requests += 1;
    void (async () => {
      const refuse = (code: string, scheme: string, error: string, headers: Record<string, string> = {}) => {
        refusals.push(code);
        res.writeHead(401, { 'www-authenticate': `${scheme} error="${error}"`, 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify({ error, code }));
      };
      const [scheme = '', token = ''] = (req.headers.authorization ?? '').split(' ', 2);
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keys));
      } catch {
        return refuse('ERR_TOKEN_INVALID', 'Bearer', 'invalid_token');
      }
      const cnf = payload.cnf as { 'x5t#S256'?: string; jkt?: string } | undefined;
      const der = ((req.socket as TLSSocket).getPeerCertificate().raw as Buffer | undefined) ?? undefined;
      try {
        if (scheme === 'DPoP') {
          if (cnf?.jkt === undefined) return refuse('ERR_NO_CNF', 'DPoP', 'invalid_token');
          const proof = req.headers.dpop;
          if (typeof proof !== 'string') return refuse('ERR_DPOP_INVALID', 'DPoP', 'invalid_dpop_proof');
          await verifyDpopProof({
            proof,
            htm: req.method ?? 'GET',
            htu: `https://${req.headers.host ?? LOOPBACK}${req.url ?? '/'}`,
            accessToken: token,
            jkt: cnf.jkt,
            ...(options.requireDpopNonce === true ? { nonce } : {}),
            ...(options.nowSeconds === undefined ? {} : { nowSeconds: options.nowSeconds() }),
            rememberJti: (jti) => !seen.has(jti) && seen.add(jti) !== undefined,
          });
        } else if (scheme === 'Bearer' || scheme === 'mtls_pop') {
          if (cnf?.jkt !== undefined) return refuse('ERR_DPOP_AS_BEARER', 'DPoP', 'invalid_token');
          if (cnf?.['x5t#S256'] !== undefined || scheme === 'mtls_pop') verifyCertificateBinding(cnf, der);
        } else {
          return refuse('ERR_SCHEME', 'Bearer', 'invalid_request');
        }
      } catch (error) {
        if (!(error instanceof BindingError)) throw error;
        if (error.code === 'ERR_DPOP_NONCE') return refuse(error.code, 'DPoP', 'use_dpop_nonce', { 'dpop-nonce': nonce });
        return refuse(error.code, scheme === 'DPoP' ? 'DPoP' : 'Bearer', scheme === 'DPoP' ? 'invalid_dpop_proof' : 'invalid_token');
      }
      sendJson(res, 200, { sub: payload.sub, cnf, scheme });
    })().catch((err: unknown) => sendJson(res, 500, { error: 'server_error', error_description: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return {
    url: `https://${LOOPBACK}:${(server.address() as AddressInfo).port}`,
    get requests() {
      return requests;
    },
    refusals,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
