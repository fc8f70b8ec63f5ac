// `x-assertion token` behind a forward proxy: `--proxy`, or HTTP(S)_PROXY /
// NO_PROXY from the environment. A real proxy (npm `proxy`) on 127.0.0.1
// counts what it relays; the CLI runs as a subprocess with its own environment.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEntraServer, type EntraServer } from '@x/devserver';
import { createProxy } from 'proxy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, makeFixtures, requireBuilt, runCli, runMain, type Fixtures } from './helpers.js';

const TENANT = '7f0c1d2e-0000-4000-8000-00000000c11a';
const CLIENT = '0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b';
const GRAPH = 'https://graph.microsoft.com/.default';

let fx: Fixtures;
let entra: EntraServer;
let proxyUrl: string;
const seen: string[] = [];
let closeProxy: () => void;

beforeAll(async () => {
  requireBuilt();
  fx = makeFixtures();
  entra = await startEntraServer({ tenantId: TENANT, clients: [{ clientId: CLIENT, certificates: [readFileSync(fx.rsaCert, 'utf8')] }] });
  const server = createProxy(createServer());
  server.prependListener('connect', (req: IncomingMessage) => seen.push(req.url ?? ''));
  server.prependListener('request', (req: IncomingMessage) => seen.push(new URL(req.url ?? '').host));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closeProxy = () => {
    server.closeAllConnections();
    server.close();
  };
});
afterAll(async () => {
  closeProxy?.();
  await entra?.close();
  fx?.cleanup();
});

const args = () => ['token', fx.rsaBundle, '--tenant', TENANT, '--client-id', CLIENT, '--scope', GRAPH, '--authority-host', entra.url];

describe('token through a forward proxy', () => {
  it('--proxy: the token request goes through the proxy', async () => {
    seen.length = 0;
    const r = await runCli([...args(), '--proxy', proxyUrl]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${entra.issued.at(-1)!.token}\n`);
    expect(seen).toStrictEqual([new URL(entra.url).host]);
  });

  it('HTTP_PROXY from the environment; NO_PROXY wins', async () => {
    seen.length = 0;
    const viaEnv = await runCli(args(), { env: baseEnv({ HTTP_PROXY: proxyUrl }) });
    expect(viaEnv.code).toBe(0);
    expect(seen).toStrictEqual([new URL(entra.url).host]);
    const direct = await runCli(args(), { env: baseEnv({ HTTP_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' }) });
    expect(direct.code).toBe(0);
    expect(seen).toHaveLength(1);
  });

  it('a --proxy that is not an http(s) URL is a usage error (exit 2), nothing sent', async () => {
    const before = entra.requests.length;
    const r = await runMain([...args(), '--proxy', 'socks5://127.0.0.1:1080']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--proxy must be an http: or https: URL/);
    expect(entra.requests.length).toBe(before);
  });
});
