/**
 * What the dev servers remember about each token request they receive.
 *
 * @module
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';

/**
 * One request received by a token endpoint, as the server saw it.
 *
 * Requests are recorded before the server answers, so a test that awaited
 * the response can read the record straight away.
 */
export interface RecordedRequest {
  /** HTTP method, e.g. `POST`. */
  method: string;
  /** Request path without the query string, e.g. `/token`. */
  path: string;
  /** Request headers as received (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
  /**
   * The `application/x-www-form-urlencoded` fields. When a field is repeated
   * the first value is kept. Empty when the body was not a form.
   */
  form: Record<string, string>;
  /** When the request arrived, in milliseconds since the epoch. */
  receivedAt: number;
  /**
   * The `client_assertion`, decoded without verification, when the form
   * carried one that parses as a JWS compact JWT.
   */
  assertion?: { header: Record<string, unknown>; claims: Record<string, unknown> };
}

/**
 * Parses a form body. The first value of a repeated field wins.
 *
 * @internal
 */
export function parseForm(body: string): Record<string, string> {
  const form: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(body)) {
    if (!Object.hasOwn(form, name)) form[name] = value;
  }
  return form;
}

/**
 * Decodes (does not verify) a compact JWT; `undefined` when it does not parse.
 *
 * @internal
 */
export function decodeAssertion(
  jwt: string | undefined,
): { header: Record<string, unknown>; claims: Record<string, unknown> } | undefined {
  if (typeof jwt !== 'string' || jwt === '') return undefined;
  try {
    return {
      header: { ...decodeProtectedHeader(jwt) },
      claims: { ...decodeJwt(jwt) },
    };
  } catch {
    return undefined;
  }
}
