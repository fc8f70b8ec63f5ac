/**
 * RFC 8705 §3 presentation: an https server on 127.0.0.1 that requests client certificates accepts a
 * "certificate-bound token" (cnf.x5t#S256 computed by openssl) only when the TLS connection made through
 * @x/token's mTLS dispatcher presents that certificate. Certificates are made with the openssl CLI.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { makeCertificate, type TestCertificate } from './binding-support.js';
import { verifyCertificateBinding } from '@x/devserver';
import { createDispatcher } from '../src/dispatcher.js';

let dir: string;
let server: Server;
let url: string;
let serverCert: string;
let requests = 0;
const client: Record<'bound' | 'other', TestCertificate> = {} as never;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'x-token-mtls-'));
  const tls = await makeCertificate(dir, 'server', ['-addext', 'subjectAltName=IP:127.0.0.1'], 'ec');
  serverCert = tls.certificatePem;
  client.bound = await makeCertificate(dir, 'bound', [], 'ec');
  client.other = await makeCertificate(dir, 'other', [], 'ec');
  const cnf = { 'x5t#S256': client.bound.x5tS256 };
  server = createServer({ cert: tls.certificatePem, key: tls.privateKeyPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    requests += 1;
    const presented = (req.socket as TLSSocket).getPeerCertificate().raw as Buffer | undefined;
    try {
      verifyCertificateBinding(cnf, presented);
      res.writeHead(200).end('ok');
    } catch (e) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end((e as { code: string }).code);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/resource`;
}, 60_000);

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

test('the bound certificate gets 200; another certificate or none gets 401', async () => {
  const results: Array<[number, string]> = [];
  for (const who of ['bound', 'other', undefined] as const) {
    const dispatcher = who === undefined
      ? new Agent({ connect: { ca: serverCert } })
      : (await createDispatcher({ ca: serverCert, proxy: false }, client[who]))!;
    try {
      const response = await fetch(url, { dispatcher });
      results.push([response.status, await response.text()]);
    } finally {
      await dispatcher.close();
    }
  }
  expect(results).toEqual([[200, 'ok'], [401, 'ERR_CERT_MISMATCH'], [401, 'ERR_CERT_MISMATCH']]);
  expect(requests).toBe(3);
});
