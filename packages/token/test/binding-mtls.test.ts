/**
 * RFC 8705 §3 presentation: an https server on 127.0.0.1 that requests client certificates accepts a
 * "certificate-bound token" (cnf.x5t#S256 computed by openssl) only when the TLS connection made through
 * @x/token's mTLS dispatcher presents that certificate. Certificates are made with the openssl CLI.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { verifyCertificateBinding } from '@x/devserver';
import { createMtlsDispatcher } from '../src/binding/mtls.js';

const run = promisify(execFile);
let dir: string;
let server: Server;
let url: string;
let serverCert: string;
let requests = 0;
const client: Record<'bound' | 'other', { certificatePem: string; privateKeyPem: string; x5tS256: string }> = {} as never;

async function makeCertificate(name: string, extra: string[] = []): Promise<{ certificatePem: string; privateKeyPem: string; x5tS256: string }> {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.crt`);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', certPath, '-subj', `/CN=${name}`, '-days', '2', ...extra]);
  const { stdout } = await run('sh', ['-c', `openssl x509 -in '${certPath}' -outform DER | openssl dgst -sha256 -binary | openssl base64 -A`]);
  return {
    certificatePem: await readFile(certPath, 'utf8'),
    privateKeyPem: await readFile(keyPath, 'utf8'),
    x5tS256: stdout.trim().replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_'),
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'x-token-mtls-'));
  const tls = await makeCertificate('server', ['-addext', 'subjectAltName=IP:127.0.0.1']);
  serverCert = tls.certificatePem;
  client.bound = await makeCertificate('bound');
  client.other = await makeCertificate('other');
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
      : createMtlsDispatcher({ ...client[who], ca: serverCert });
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
