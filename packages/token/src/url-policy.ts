/**
 * Which URLs may receive a client credential or an access token, and how a
 * URL is shown in messages. One policy for the token endpoint, the issuer,
 * discovery results and resource calls.
 *
 * @module
 */
import { TokenRequestError } from './errors.js';

/**
 * Whether `url` may carry a client credential or a token: `https:`, or
 * `http:` to a loopback host (`localhost`, `127.0.0.0/8`, `::1`) for tests
 * (RFC 6749 §3.2 and RFC 6750 §5.3 require TLS). URLs with user info or a
 * fragment are refused too.
 *
 * @returns the problem, or `undefined` when the URL is acceptable
 */
function insecureUrlProblem(url: URL): string | undefined {
  if (url.username !== '' || url.password !== '') return 'must not contain a user name or password';
  if (url.hash !== '') return 'must not contain a fragment';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return undefined;
  return 'must use https: (http: is allowed only to localhost, 127.0.0.0/8 and [::1])';
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** Why `value` may not receive a client credential or a token, or `undefined`. */
export function urlProblem(value: string): string | undefined {
  if (!URL.canParse(value)) return 'is not an absolute URL';
  return insecureUrlProblem(new URL(value));
}

/**
 * Parse a URL that will receive a client credential.
 *
 * @param name - the option's name, for the message
 * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS` when it is not an absolute `https:` URL (or `http:` on loopback)
 */
export function parseSecureUrl(value: string, name: string): URL {
  const problem = urlProblem(value);
  if (problem !== undefined) throw new TokenRequestError('ERR_INVALID_OPTIONS', `${name} ${problem}.`);
  return new URL(value);
}

/**
 * A URL for messages and events: without query and fragment, which RFC 6749
 * §3.2 allows in an endpoint URL and a gateway may use for an API key.
 */
export function displayUrl(url: string): string {
  return url.split(/[?#]/, 1)[0]!;
}
