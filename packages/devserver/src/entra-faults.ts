/**
 * Faults the Entra-like server can be told to produce instead of (or on top
 * of) a normal answer: throttling, outages, proxy pages, broken or missing
 * bodies, slow or cut connections, odd `expires_in` values, clock skew.
 *
 * @module
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';

import { entraErrorBody, type ErrorContext } from './entra-errors.js';

/**
 * One fault, applied to one token request. Queue faults with
 * `EntraServer.fail(...)`; each token request takes the next one.
 *
 * Faults that replace the answer (`status`, `html`, `no-token`,
 * `invalid-json`, `reset`, `oversize`) skip normal processing: the
 * assertion is neither verified nor consumed (its `jti` stays usable) and no
 * token is issued. Faults that alter the answer (`slow`, `drip`,
 * `expires-in`, `date`) process the request normally first.
 */
export type EntraFault =
  /**
   * Answer `status` with a JSON body: `body` when given, else an Entra error
   * (`429` → `AADSTS90055` throttled, `5xx` → `AADSTS90033` transient
   * error). `retryAfter` is sent verbatim as `Retry-After` (seconds or an
   * HTTP date).
   */
  | { kind: 'status'; status: number; retryAfter?: string; body?: object }
  /** Answer `status` with a `text/html` error page, as a proxy or gateway would. */
  | { kind: 'html'; status: number }
  /** `200` JSON with `token_type` and `expires_in` but no `access_token`. */
  | { kind: 'no-token' }
  /** `200`, `Content-Type: application/json`, truncated JSON. */
  | { kind: 'invalid-json' }
  /** Wait `delayMs` (headers included), then answer normally. */
  | { kind: 'slow'; delayMs: number }
  /**
   * Send the status and headers at once, then the normal body in `chunks`
   * pieces, one every `intervalMs` (total ≈ `chunks × intervalMs`); no
   * `Content-Length`.
   */
  | { kind: 'drip'; intervalMs: number; chunks: number }
  /**
   * Send `200` headers (with a `Content-Length`) and part of a token body,
   * then reset the connection (TCP RST).
   */
  | { kind: 'reset' }
  /**
   * `200` JSON token answer whose body is `bytes` bytes long, streamed
   * without `Content-Length`; stops early if the client goes away.
   */
  | { kind: 'oversize'; bytes: number }
  /**
   * Answer normally, with `expires_in` replaced by `value` in a successful
   * answer (`undefined` removes it). Any JSON value: a string, a negative
   * number, `null`… The token's own `exp` is unchanged.
   */
  | { kind: 'expires-in'; value: unknown }
  /** Answer normally with this `Date` header, e.g. one far in the past or future. */
  | { kind: 'date'; date: string };

/** A complete answer before it is written. @internal */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Builds a JSON {@link Reply}. @internal */
export function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
  };
}

/** Checks a fault before it is queued. @internal */
export function validateFault(fault: EntraFault): void {
  const fail = (message: string): never => {
    throw new TypeError(`invalid EntraFault ${JSON.stringify(fault)}: ${message}`);
  };
  const positive = (n: unknown, name: string, min = 0): void => {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min) fail(`${name} must be an integer ≥ ${min}`);
  };
  switch (fault.kind) {
    case 'status':
    case 'html':
      positive(fault.status, 'status', 100);
      if (fault.status > 599) fail('status must be < 600');
      return;
    case 'slow':
      return positive(fault.delayMs, 'delayMs');
    case 'drip':
      positive(fault.intervalMs, 'intervalMs');
      return positive(fault.chunks, 'chunks', 1);
    case 'oversize':
      return positive(fault.bytes, 'bytes', 64);
    case 'date':
      if (typeof fault.date !== 'string') fail('date must be a string');
      return;
    case 'no-token':
    case 'invalid-json':
    case 'reset':
    case 'expires-in':
      return;
    default:
      fail('unknown kind');
  }
}

/**
 * The canned answer of a fault that replaces normal processing, or
 * `undefined` for faults that need the normal answer or write the socket
 * themselves.
 *
 * @internal
 */
export function cannedReply(fault: EntraFault, version: 'v1' | 'v2', context: ErrorContext): Reply | undefined {
  switch (fault.kind) {
    case 'status': {
      const headers: Record<string, string> = { 'cache-control': 'no-store, no-cache' };
      if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
      return jsonReply(fault.status, fault.body ?? defaultFaultBody(fault.status, context), headers);
    }
    case 'html': {
      const title = `${fault.status} ${STATUS_CODES[fault.status] ?? 'Error'}`;
      return {
        status: fault.status,
        headers: { 'content-type': 'text/html; charset=utf-8' },
        body: `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`,
      };
    }
    case 'no-token':
      return jsonReply(
        200,
        version === 'v2'
          ? { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 }
          : { token_type: 'Bearer', expires_in: '3599', ext_expires_in: '3599' },
        { 'cache-control': 'no-store, no-cache' },
      );
    case 'invalid-json':
      return {
        status: 200,
        headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store, no-cache' },
        body: '{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1Qi',
      };
    default:
      return undefined;
  }
}

function defaultFaultBody(status: number, context: ErrorContext): Record<string, unknown> {
  if (status === 429) {
    return entraErrorBody(
      'temporarily_unavailable',
      90055,
      'The request has been throttled: too many requests. Retry after the interval in the Retry-After header.',
      context,
    );
  }
  if (status >= 500) {
    return entraErrorBody(
      status === 500 ? 'server_error' : 'temporarily_unavailable',
      90033,
      'A transient error has occurred. Please try again.',
      context,
    );
  }
  return entraErrorBody('invalid_request', 90014, `Injected fault: HTTP ${status}.`, context);
}

/** Whether the response can still be written to. @internal */
export const writable = (res: ServerResponse): boolean => !res.destroyed && !res.writableEnded;

/**
 * Writes `200` headers and part of a token body, then resets the socket.
 *
 * @internal
 */
export function writeReset(res: ServerResponse): void {
  const body = `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"${'A'.repeat(512)}"}`;
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
  });
  res.write(body.slice(0, 96), () => {
    const socket = res.socket;
    if (socket === null) return;
    if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
  });
}

/**
 * Streams a `200` JSON token answer of exactly `bytes` bytes, honouring
 * back-pressure; stops when the client goes away or `isClosed()` turns true.
 *
 * @internal
 */
export async function writeOversize(res: ServerResponse, bytes: number, isClosed: () => boolean): Promise<void> {
  const head = '{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"';
  const tail = '"}';
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store, no-cache' });
  res.write(head);
  let remaining = Math.max(0, bytes - head.length - tail.length);
  const block = Buffer.alloc(64 * 1024, 'A');
  while (remaining > 0) {
    if (!writable(res) || isClosed()) return;
    const chunk = remaining >= block.length ? block : block.subarray(0, remaining);
    remaining -= chunk.length;
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  if (writable(res)) res.end(tail);
}

/**
 * Sends `reply`'s status and headers at once, then its body in `chunks`
 * pieces, one every `intervalMs`.
 *
 * @internal
 */
export async function writeDrip(
  res: ServerResponse,
  reply: Reply,
  intervalMs: number,
  chunks: number,
  sleep: (ms: number) => Promise<boolean>,
): Promise<void> {
  const body = Buffer.from(reply.body);
  const pieces = Math.max(1, Math.min(chunks, body.length));
  const size = Math.ceil(body.length / pieces);
  const headers = { ...reply.headers };
  delete headers['content-length'];
  res.writeHead(reply.status, headers);
  res.flushHeaders();
  for (let offset = 0; offset < body.length; offset += size) {
    if (!(await sleep(intervalMs)) || !writable(res)) return;
    res.write(body.subarray(offset, offset + size));
  }
  if (writable(res)) res.end();
}
