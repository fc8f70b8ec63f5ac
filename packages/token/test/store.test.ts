/**
 * The token store seam (level 2 of the cache) against the Entra-shaped dev
 * server: a small in-test `TokenStore` (a real object implementing the
 * interface, keeping JSON like a shared store would) shared by credentials of
 * one process.
 */
import { execFile } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { loadCredentialFile } from '@x/assertion';
import { startEntraServer, type EntraServer } from '@x/devserver';
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  type TokenEvent,
  type TokenResponse,
  type TokenStore,
  type TokenStoreRequest,
} from '@x/token';
import { certificateDir, expectNoSecrets, FAST_RETRY, recordEvents, type CertificateDir, type TestCertificate } from './support.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = 'a1b2c3d4-0000-4000-8000-00000000570e';
const SCOPE = 'https://graph.microsoft.com/.default';
const SECRET = 'store-test-s3cret~value';

/** A shared store in one object: JSON in a map, the policy asked through the request. */
class MapTokenStore implements TokenStore {
  readonly #data = new Map<string, string>();
  readonly requests: TokenStoreRequest[] = [];

  async lookup(request: TokenStoreRequest): Promise<TokenResponse> {
    this.requests.push(request);
    const name = JSON.stringify(request.key);
    const stored = this.#data.get(name);
    if (stored !== undefined && !request.forceRefresh) {
      const response = JSON.parse(stored) as TokenResponse;
      if (request.isFresh(response)) {
        request.emit({ type: 'store-hit', scope: request.key.scopes });
        return response;
      }
    }
    request.emit({ type: 'store-miss', scope: request.key.scopes, message: `miss for ${name}` });
    const response = await request.fetch();
    this.#data.set(name, JSON.stringify(response));
    return response;
  }
}

const run = promisify(execFile);
let dir: CertificateDir;
let rsa: TestCertificate;
let ed25519Path: string;
let ecPath: string;
let server: EntraServer;
const allEvents: TokenEvent[] = [];

beforeAll(async () => {
  dir = await certificateDir();
  rsa = await dir.make('store-rsa');
  const keyed = async (name: string, args: string[]) => {
    const path = join(dir.path, `${name}.pem`);
    const key = join(dir.path, `${name}.key`);
    await run('openssl', ['req', '-x509', ...args, '-nodes', '-keyout', key, '-out', path, '-subj', `/CN=${name}`, '-days', '2']);
    await run('sh', ['-c', `cat "${key}" >> "${path}"`]);
    return path;
  };
  [ed25519Path, ecPath] = await Promise.all([
    keyed('store-ed25519', ['-newkey', 'ed25519']),
    keyed('store-ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']),
  ]);
});

afterEach(async () => {
  await server?.close();
});

afterAll(async () => {
  expectNoSecrets(allEvents, [SECRET]);
  await dir?.remove();
});

async function entra(): Promise<EntraServer> {
  server = await startEntraServer({ tenantId: TENANT, clients: [{ clientId: CLIENT, certificates: [rsa.certPem], secret: SECRET }] });
  return server;
}

function certificateCredential(store: TokenStore | undefined, path = rsa.bundlePath) {
  const { events, logger } = recordEvents();
  const c = new ClientCertificateCredential(TENANT, CLIENT, path, {
    authorityHost: server.url,
    retry: FAST_RETRY,
    tokenStore: store,
    logger: (e) => {
      logger(e);
      allEvents.push(e);
    },
  });
  return { c, events };
}

describe('tokenStore: level 2 of the cache', () => {
  test('two credentials sharing a store make one token request; level-1 hits never call the store', async () => {
    await entra();
    const store = new MapTokenStore();
    const one = certificateCredential(store);
    const two = certificateCredential(store);

    const first = await one.c.getToken(SCOPE);
    const second = await two.c.getToken(SCOPE);
    expect(server.requests).toHaveLength(1);
    expect(second.token).toBe(first.token);
    expect(store.requests).toHaveLength(2);

    // Level 1 answers now: a map look-up, no store call.
    for (let i = 0; i < 5; i++) expect(await two.c.getToken(SCOPE)).toBe(second);
    expect(store.requests).toHaveLength(2);

    const [request] = store.requests;
    expect(request!.key).toEqual({
      tokenEndpoint: `${server.url}/${TENANT}/oauth2/v2.0/token`,
      clientId: CLIENT,
      scopes: SCOPE,
      certificateThumbprint: (await loadCredentialFile(rsa.bundlePath)).thumbprints['x5t#S256'],
      tokenType: 'Bearer',
      partition: undefined,
    });
    expect(one.events.map((e) => e.type)).toContain('store-miss');
    expect(two.events.find((e) => e.type === 'store-hit')).toEqual({ type: 'store-hit', clientId: CLIENT, scope: SCOPE });
  });

  test('concurrent misses of two credentials share one store call and one request', async () => {
    await entra();
    const store = new MapTokenStore();
    const [x, y] = [certificateCredential(store), certificateCredential(store)];
    const tokens = await Promise.all([...Array(10)].flatMap(() => [x.c.getToken(SCOPE), y.c.getToken(SCOPE)]));
    expect(server.requests).toHaveLength(1);
    expect(store.requests).toHaveLength(1);
    expect(new Set(tokens.map((t) => t.token)).size).toBe(1);
  });

  test('forceRefresh reaches the store, which fetches and stores the new token', async () => {
    await entra();
    const store = new MapTokenStore();
    const x = certificateCredential(store);
    const first = await x.c.getToken(SCOPE);
    const forced = await x.c.getToken(SCOPE, { forceRefresh: true });
    expect(store.requests.map((r) => r.forceRefresh)).toEqual([false, true]);
    expect(server.requests).toHaveLength(2);
    expect(forced.token).not.toBe(first.token);
    // A second credential gets the new token from the store.
    expect((await certificateCredential(store).c.getToken(SCOPE)).token).toBe(forced.token);
    expect(server.requests).toHaveLength(2);
  });

  test('the policy in the request: fresh and usable as the cache decides', async () => {
    await entra();
    const store = new MapTokenStore();
    await certificateCredential(store).c.getToken(SCOPE);
    const { isFresh, isUsable } = store.requests[0]!;
    const now = Date.now();
    const response = (lifetimeSeconds: number, ageMs: number): TokenResponse => ({
      accessToken: 'x',
      tokenType: 'Bearer',
      expiresIn: lifetimeSeconds,
      expiresOnTimestamp: now - ageMs + lifetimeSeconds * 1000,
    });
    expect(isFresh(response(3600, 0))).toBe(true);
    expect(isFresh(response(3600, 1_900_000))).toBe(false); // past half the lifetime
    expect(isUsable(response(3600, 1_900_000))).toBe(true);
    expect(isUsable(response(3600, 3_575_000))).toBe(false); // within 30 s of expiry
    expect(isUsable(response(12, 8_000))).toBe(true); // a 12 s token: margin 3 s
    expect(isUsable(response(12, 9_500))).toBe(false);
  });

  test('keyMaterial: the RS256 signature over the label, the same for every credential with the key', async () => {
    await entra();
    const store = new MapTokenStore();
    await certificateCredential(store).c.getToken(SCOPE);
    await certificateCredential(store).c.getToken(SCOPE, { forceRefresh: true });
    const [m1, m2] = await Promise.all(store.requests.map((r) => r.keyMaterial()));
    expect(m1).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(m1!).equals(Buffer.from(m2!))).toBe(true);
    const { thumbprints } = await loadCredentialFile(rsa.bundlePath);
    const label = Buffer.from(`x-token-store-key-v1:${thumbprints['x5t#S256']}`, 'ascii');
    expect(verify('sha256', label, createPublicKey(rsa.certPem), m1!)).toBe(true);
    expect(m1!.byteLength).toBe(256);
  });

  test('keyMaterial: EdDSA for Ed25519, none for EC (randomised ECDSA) and for a client secret', async () => {
    await entra();
    const material = async (make: (store: TokenStore) => { getToken(s: string): Promise<unknown> }) => {
      let bytes: Uint8Array | undefined;
      const store: TokenStore = {
        lookup: async (request) => {
          bytes = await request.keyMaterial();
          throw new Error('stop');
        },
      };
      await expect(make(store).getToken(SCOPE)).rejects.toThrow('stop');
      return bytes;
    };
    const ed = await material((store) => certificateCredential(store, ed25519Path).c);
    const { thumbprints, publicKey } = await loadCredentialFile(ed25519Path);
    expect(verify(null, Buffer.from(`x-token-store-key-v1:${thumbprints['x5t#S256']}`), publicKey, ed!)).toBe(true);
    expect(await material((store) => certificateCredential(store, ecPath).c)).toBeUndefined();
    expect(
      await material(
        (store) => new ClientSecretCredential(TENANT, CLIENT, SECRET, { authorityHost: server.url, retry: FAST_RETRY, tokenStore: store }),
      ),
    ).toBeUndefined();
  });

  test('a store that hands back an unusable token is not served: the token is fetched', async () => {
    await entra();
    let calls = 0;
    const store: TokenStore = {
      lookup: async (request) => {
        calls++;
        return { accessToken: 'stale', tokenType: 'Bearer', expiresIn: 3600, expiresOnTimestamp: Date.now() - 1000 };
      },
    };
    const x = certificateCredential(store);
    const token = await x.c.getToken(SCOPE);
    expect(token.token).not.toBe('stale');
    expect(calls).toBe(1);
    expect(server.requests).toHaveLength(1);
    expect(x.events.find((e) => e.type === 'store-fallback')).toMatchObject({ code: 'ERR_STORE_UNUSABLE' });
  });

  test('an option that is not a TokenStore is ERR_INVALID_OPTIONS', async () => {
    await entra();
    expect(() => certificateCredential({} as TokenStore)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTIONS' }));
  });
});
