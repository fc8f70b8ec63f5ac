/**
 * Small `node:http` helpers shared by the servers: listening on loopback
 * (plain HTTP or, with a certificate, HTTPS), reading a bounded body,
 * answering JSON, and closing for good.
 *
 * @internal
 * @module
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/** The only host any dev server listens on. */
export const LOOPBACK = '127.0.0.1';

/**
 * A server certificate and its private key, both PEM (text, or the bytes of
 * a PEM file), for serving HTTPS on `127.0.0.1`. The certificate must name
 * `IP:127.0.0.1` in its subjectAltName, and clients must trust its issuer
 * (e.g. `NODE_EXTRA_CA_CERTS`, or `ca` of `node:https` `request`).
 */
export interface LoopbackTls {
  /** The server certificate, PEM; intermediates may follow the leaf. */
  cert: string | Buffer;
  /** Its private key, PEM, unencrypted. */
  key: string | Buffer;
}

/** A server listening on `127.0.0.1` with the port the OS chose. */
export interface LoopbackServer {
  /** The underlying `node:http` (or, with TLS, `node:https`) server. */
  readonly server: Server | HttpsServer;
  /** The port the OS assigned. */
  readonly port: number;
  /** `http://127.0.0.1:PORT`, or `https://127.0.0.1:PORT` with TLS (no trailing slash). */
  readonly origin: string;
  /** Stops accepting connections, drops open ones (keep-alive included) and resolves once closed. Idempotent. */
  close(): Promise<void>;
}

/**
 * Listens on `127.0.0.1`, port 0, and resolves with the port the OS chose.
 *
 * @param listener - Request handler. Errors it throws (or rejects with) become a `500` JSON answer.
 * @param tls - When given, serve HTTPS (`node:https`) with this certificate and key.
 * @throws when `tls` holds an unusable certificate or key (before listening).
 */
export async function listenOnLoopback(
  listener: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
  tls?: LoopbackTls,
): Promise<LoopbackServer> {
  const handler: RequestListener = (req, res) => {
    let result: void | Promise<void>;
    try {
      result = listener(req, res);
    } catch (err) {
      internalError(res, err);
      return;
    }
    if (result instanceof Promise) result.catch((err: unknown) => internalError(res, err));
  };
  if (tls !== undefined && (!tls.cert || !tls.key)) throw new TypeError('tls needs both cert and key (PEM)');
  const server =
    tls === undefined
      ? createServer({ keepAliveTimeout: 5_000 }, handler)
      : createHttpsServer({ cert: tls.cert, key: tls.key, keepAliveTimeout: 5_000 }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    server,
    port,
    origin: `${tls === undefined ? 'http' : 'https'}://${LOOPBACK}:${port}`,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function internalError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy(err instanceof Error ? err : undefined);
    return;
  }
  sendJson(res, 500, { error: 'server_error', error_description: err instanceof Error ? err.message : String(err) });
}

/** The body was larger than the limit given to {@link readBody}. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/**
 * Reads the whole request body, refusing more than `limit` bytes.
 *
 * @throws {@link BodyTooLargeError} when the body exceeds `limit`.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError(`request body exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Writes a complete JSON answer (with `Cache-Control: no-store`). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Copies the request headers into a plain record. */
export function copyHeaders(req: IncomingMessage): Record<string, string | string[] | undefined> {
  return { ...req.headers };
}
