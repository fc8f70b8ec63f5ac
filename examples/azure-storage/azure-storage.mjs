#!/usr/bin/env node
// A real Azure SDK client, @azure/storage-blob's BlobServiceClient, with
// @x/token's ClientCertificateCredential in place of @azure/identity's,
// against the Azurite storage emulator — everything on 127.0.0.1:
//
//   1. a throwaway client certificate (a passphrase-protected PFX) and a
//      token endpoint that behaves as Microsoft Entra ID (the dev server);
//   2. Azurite 3.35 (blob service only) started by this script with
//      --oauth basic over https (a throwaway openssl certificate for
//      127.0.0.1), --inMemoryPersistence, --skipApiVersionCheck and always
//      --disableTelemetry; stopped by its PID at the end;
//   3. create a container, upload, list, download, delete — each request
//      authorised with a bearer token from the credential.
//
//   node azure-storage.mjs            # prints what happened
//   node azure-storage.mjs --json     # one JSON report (for the test)
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { BlobServiceClient, newPipeline } from '@azure/storage-blob';
import { startEntraServer } from '@x/devserver';
import { makeSelfSignedPfx } from '@x/examples-shared';
import { ClientCertificateCredential } from '@x/token';

const json = process.argv.includes('--json');
const TENANT = '8f6c3a52-2b1e-4f7d-9c0a-5e4d3b2a1f00';
const CLIENT = 'c3a1e2d4-5b6f-4a7c-8d9e-0f1a2b3c4d5e';
const ACCOUNT = 'devstoreaccount1'; // Azurite's built-in account
const STARTUP_TIMEOUT_MS = 30_000;

const log = (line) => json || console.log(line);
const work = await mkdtemp(join(tmpdir(), 'x-azure-storage-'));
let azurite;
let entra;
try {
  // 1. The client certificate (as a user would have it: a PFX and its passphrase) and the token endpoint.
  const passphrase = randomBytes(12).toString('base64url');
  const { pfx, certificatePem } = makeSelfSignedPfx({ commonName: 'azure-storage-example', passphrase });
  const pfxPath = join(work, 'app.pfx');
  await writeFile(pfxPath, pfx, { mode: 0o600 });
  entra = await startEntraServer({ tenantId: TENANT, clients: [{ clientId: CLIENT, certificates: [certificatePem] }] });

  // @azure/identity's constructor shape. v1 endpoint: its tokens carry Entra's v1 issuer
  // (https://sts.windows.net/{tenant}/), the one Azurite accepts — Entra issues Storage v1 tokens too.
  const credential = new ClientCertificateCredential(TENANT, CLIENT, { certificatePath: pfxPath, certificatePassword: passphrase }, {
    authorityHost: entra.url,
    endpointVersion: 'v1',
  });
  // What the SDK asks the credential for (counted; the option names and enableCae kept, never a token).
  const asked = [];
  const counted = {
    getToken: (scopes, options = {}) => {
      asked.push({ scopes, options: Object.keys(options).sort(), enableCae: options.enableCae });
      return credential.getToken(scopes, options);
    },
  };

  // 2. Azurite over https with OAuth, its certificate made by openssl for 127.0.0.1.
  const [cert, key] = [join(work, 'azurite.crt'), join(work, 'azurite.key')];
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-subj', '/CN=azurite', '-days', '2', '-addext', 'subjectAltName=IP:127.0.0.1',
  ]);
  azurite = await startAzurite({ cert, key, cwd: work });
  log(`Azurite ${azurite.url} (pid ${azurite.child.pid})`);

  // The SDK's pipeline as newPipeline makes it for a credential, plus one policy: trust Azurite's throwaway
  // certificate for these requests only (no NODE_EXTRA_CA_CERTS, no change to the global agent).
  const agent = new Agent({ ca: await readFile(cert, 'utf8'), keepAlive: true });
  const trustAzurite = { create: (next) => ({ sendRequest: (request) => ((request.agent ??= agent), next.sendRequest(request)) }) };
  const pipeline = newPipeline(counted, { retryOptions: { maxTries: 1 } });
  pipeline.factories.unshift(trustAzurite);

  // 3. A real BlobServiceClient, handed our credential where @azure/identity's would go.
  const service = new BlobServiceClient(`${azurite.url}/${ACCOUNT}`, pipeline);
  const container = service.getContainerClient(`example-${randomBytes(4).toString('hex')}`);
  const operations = [];
  const step = async (name, run) => {
    const result = await run();
    operations.push({ name, status: result._response?.status ?? result.status });
    log(`${name}: ${operations.at(-1).status}`);
    return result;
  };
  await step('create container', () => container.create());
  const content = `hello from a certificate, ${new Date().toISOString()}`;
  const blob = container.getBlockBlobClient('hello.txt');
  await step('upload blob', () => blob.upload(content, Buffer.byteLength(content)));
  const names = [];
  for await (const item of container.listBlobsFlat()) names.push(item.name);
  operations.push({ name: 'list blobs', status: 200, names });
  const download = await step('download blob', () => blob.download());
  const chunks = [];
  for await (const chunk of download.readableStreamBody) chunks.push(chunk);
  const downloaded = Buffer.concat(chunks);
  await step('delete container', () => container.delete());

  // The token the SDK was given, from the credential's cache (CAE partition: the SDK asks with enableCae).
  const token = await credential.getToken('https://storage.azure.com/.default', { enableCae: true });
  const claims = JSON.parse(Buffer.from(token.token.split('.')[1], 'base64url').toString('utf8'));
  const report = {
    azurite: { url: azurite.url, pid: azurite.child.pid, flags: azurite.flags },
    operations,
    downloadedMatches: downloaded.toString('utf8') === content,
    getTokenCalls: asked.length,
    asked,
    tokenRequests: entra.requests.length,
    claimsParameter: entra.requests[0]?.form.claims,
    token: { iss: claims.iss, aud: claims.aud, tid: claims.tid, appid: claims.appid, ver: claims.ver },
  };
  log(`${asked.length} getToken call(s) by the SDK (${asked[0]?.options.join(', ')}; enableCae ${asked[0]?.enableCae}), ${report.tokenRequests} token request(s); token iss ${claims.iss}, aud ${claims.aud}`);
  if (json) console.log(JSON.stringify(report));
} finally {
  if (azurite !== undefined) await azurite.stop();
  await entra?.close();
  await rm(work, { recursive: true, force: true });
}

/** Azurite's blob service on 127.0.0.1 (a free port), as a child process; `stop()` ends it by its PID. */
async function startAzurite({ cert, key, cwd }) {
  const main = join(dirname(createRequire(import.meta.url).resolve('azurite/package.json')), 'dist/src/blob/main.js');
  const flags = [
    '--blobHost', '127.0.0.1', '--blobPort', '0',
    '--oauth', 'basic', '--cert', cert, '--key', key,
    '--inMemoryPersistence', '--extentMemoryLimit', '64',
    '--skipApiVersionCheck',
    '--disableTelemetry', // otherwise Azurite sends telemetry off the machine
    '--silent',
  ];
  const child = spawn(process.execPath, [main, ...flags], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = once(child, 'exit');
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start within ${STARTUP_TIMEOUT_MS} ms:\n${output}`)), STARTUP_TIMEOUT_MS);
    const onData = (chunk) => {
      output += chunk;
      const match = /successfully listens on (https:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited during start-up:\n${output}`));
    });
  }).catch(async (error) => {
    if (child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    throw error;
  });
  return {
    url,
    child,
    flags: flags.filter((f) => f.startsWith('--')),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(child.pid, 'SIGTERM');
      const killer = setTimeout(() => child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
