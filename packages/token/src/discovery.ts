/**
 * Authorization server metadata discovery (RFC 8414 §3, OpenID Connect
 * Discovery 1.0 §4), through the transport.
 *
 * @module
 */
import { TokenRequestError } from './errors.js';
import { getJson, type HttpOptions } from './transport.js';
import { parseSecureUrl, urlProblem } from './url-policy.js';
import { parseJsonObject } from './response.js';
import { isRetryableStatus } from './retry.js';

/** Authorization server metadata (RFC 8414 §2): the members this package uses, and the rest as sent. */
export interface AuthorizationServerMetadata {
  readonly issuer: string;
  readonly token_endpoint: string;
  readonly [member: string]: unknown;
}

/**
 * Fetch and validate an authorization server's metadata: OpenID Connect
 * Discovery (`{issuer}/.well-known/openid-configuration`) first, then, on a
 * 404, RFC 8414 (`{origin}/.well-known/oauth-authorization-server{path}`).
 * The document's `issuer` must equal `issuer` exactly (RFC 8414 §3.3), and
 * `token_endpoint` must be an `https:` URL (`http:` on loopback).
 *
 * @param issuer - the issuer identifier, e.g. `https://login.microsoftonline.com/{tenant}/v2.0`
 * @throws {@link TokenRequestError} `ERR_INVALID_METADATA`, `ERR_INVALID_OPTIONS` (an insecure issuer URL), and the transport codes
 */
export async function discoverAuthorizationServer(issuer: string, options: HttpOptions = {}): Promise<AuthorizationServerMetadata> {
  const url = parseSecureUrl(issuer, 'issuer');
  const path = url.pathname.replace(/\/+$/, '');
  let response = await getJson(`${url.origin}${path}/.well-known/openid-configuration`, options);
  if (response.status === 404) response = await getJson(`${url.origin}/.well-known/oauth-authorization-server${path}`, options);
  const invalid = (problem: string, status?: number) =>
    new TokenRequestError('ERR_INVALID_METADATA', `The metadata of issuer ${issuer} ${problem}.`, {
      status,
      retryable: status !== undefined && isRetryableStatus(status),
    });
  if (response.status !== 200) throw invalid(`could not be fetched (HTTP ${response.status})`, response.status);
  const metadata = parseJsonObject(response);
  if (metadata === undefined) throw invalid('is not a JSON object');
  if (metadata.issuer !== issuer) throw invalid(`names another issuer (${JSON.stringify(String(metadata.issuer).slice(0, 200))})`);
  const tokenEndpoint = metadata.token_endpoint;
  if (typeof tokenEndpoint !== 'string') throw invalid('has no token_endpoint');
  const problem = urlProblem(tokenEndpoint);
  if (problem !== undefined) throw invalid(`has a token_endpoint that ${problem}`);
  return metadata as AuthorizationServerMetadata;
}

