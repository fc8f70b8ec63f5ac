/**
 * The one place this package makes Redis details safe to show: a Redis URL
 * with its password (an Azure Cache for Redis access key) replaced, and any
 * message with that password removed.
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

/** The password of a Redis URL, for {@link redactText}; `undefined` when it has none. */
export function urlPassword(url: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password === '' ? undefined : password;
  } catch {
    return undefined;
  }
}

/** `text` with every occurrence of each secret replaced by `***`. */
export function redactText(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) if (secret !== undefined && secret.length > 0) out = out.split(secret).join('***');
  return out;
}
