/**
 * Redis URLs made safe to show: the password (an Azure Cache for Redis access
 * key) replaced. Messages are redacted by `@x/token`'s one redactor.
 *
 * @module
 */

/**
 * `url` with its password (and a username that could be one) shown as `***`;
 * an unparsable URL is shown as `[invalid URL]` since it may be a secret.
 */
export function displayRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '[invalid URL]';
  }
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

/** The password of a Redis URL, for `@x/token`'s `redact`; `undefined` when it has none. */
export function urlPassword(url: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password === '' ? undefined : password;
  } catch {
    return undefined;
  }
}
