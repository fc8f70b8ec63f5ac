// One MSAL Node process of the fleet figure's reference: MSAL's own
// distributed cache (DistributedCachePlugin) on the same Redis, as its docs
// set it up — one cache blob per partition, read before and written after each
// call. Makes `callers` concurrent cold acquireTokenByClientCredential calls and
// prints one JSON line. Argument: JSON { redisUrl, endpoint, pemPath, scope, callers }.
import * as msal from '@azure/msal-node';
import { Redis } from '../../packages/token-redis/node_modules/ioredis/built/index.js';
import { msalApplication, msalGetToken } from '../lib/clients.mjs';

const { redisUrl, endpoint, pemPath, scope, callers } = JSON.parse(process.argv[2]);
const redis = new Redis(redisUrl);
const cacheClient = { get: async (key) => (await redis.get(key)) ?? '', set: async (key, value) => redis.set(key, value) };
const partition = { getKey: async () => `msal:${endpoint.clientId}`, extractKey: async () => `msal:${endpoint.clientId}` };
const cachePlugin = new msal.DistributedCachePlugin(cacheClient, partition);
// msalApplication builds the app as the other figures do; this adds the cache plugin to its configuration.
const withCache = {
  ConfidentialClientApplication: class extends msal.ConfidentialClientApplication {
    constructor(config) {
      super({ ...config, cache: { cachePlugin } });
    }
  },
};
const app = msalApplication(withCache, endpoint, pemPath);
const results = await Promise.allSettled(Array.from({ length: callers }, () => msalGetToken(app, scope)));
const ok = results.filter((r) => r.status === 'fulfilled');
const failure = results.find((r) => r.status === 'rejected')?.reason;
console.log(JSON.stringify({ fulfilled: ok.length, rejected: results.length - ok.length, firstError: failure && `${failure.errorCode ?? failure.code ?? failure.name}` }));
redis.disconnect();
