/**
 * The atomic steps that need Lua (Redis EVALSHA, loaded on first use):
 * writing an entry only when it is newer than the one stored, and renewing or
 * releasing a lock only when this process still owns it.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A Lua script run by EVALSHA, with EVAL when the server does not know it yet (NOSCRIPT, e.g. after a restart). */
export interface Script {
  run(client: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
}

function script(source: string): Script {
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    async run(client, keys, args) {
      try {
        return await client.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return client.eval(source, keys.length, ...keys, ...args);
      }
    },
  };
}

/**
 * KEYS[1] entry, KEYS[2] throttle; ARGV[1] sealed value, ARGV[2] its expiry
 * (ms), ARGV[3] TTL (ms), ARGV[4] '1' to replace an entry this process could
 * not open. Stores unless the current entry expires at the same time or later
 * (a slow writer never replaces a newer token); a stored token ends any
 * throttling. Returns 1 when written.
 */
export const putIfNewer = script(`
local current = redis.call('GET', KEYS[1])
if current and ARGV[4] ~= '1' then
  local expires = tonumber(string.match(current, '^v1%.(%d+)%.'))
  if expires and expires >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
return 1
`);

/** KEYS[1] lock; ARGV[1] owner id. Deletes the lock only when its value is ARGV[1]. */
export const releaseLock = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** KEYS[1] lock; ARGV[1] owner id, ARGV[2] TTL (ms). Renews the lock only when its value is ARGV[1]. */
export const renewLock = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);
