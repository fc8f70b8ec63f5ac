/**
 * `ClientCertificateCredential` handed to an Azure SDK-style client (typed
 * against `@azure/core-auth`'s `TokenCredential`), and the client used.
 *
 *   node dist/main.js --local     # a local Entra ID-shaped token endpoint and API on 127.0.0.1
 *   node dist/main.js             # for real: AZURE_TENANT_ID, AZURE_CLIENT_ID,
 *                                 # AZURE_CLIENT_CERTIFICATE_PATH [, AZURE_CLIENT_CERTIFICATE_PASSWORD]
 *
 * Compile first: `tsc -p tsconfig.json` (from this directory), which is also the type check.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { TokenCredential } from '@azure/core-auth';
import { startEntraServer, startResourceServer } from '@x/devserver';
import { makeSelfSignedPfx } from '@x/examples-shared';
import { ClientCertificateCredential } from '@x/token';
import { ApiClient, ApiError } from './api-client.js';

const USAGE = `usage: node dist/main.js [--local] [--url <url>] [--scope <scope>] [--json]

  --local          start an Entra ID v2-shaped token endpoint and an API on 127.0.0.1 with a
                   throwaway certificate (no Azure account needed)
  --url <url>      the API to GET (default: Azure Resource Manager's subscription list)
  --scope <scope>  default https://management.azure.com/.default
  --json           print one JSON report

For real: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_CERTIFICATE_PATH, AZURE_CLIENT_CERTIFICATE_PASSWORD
(if the PFX / key is encrypted), AZURE_AUTHORITY_HOST (another cloud).`;

interface Setup {
  tenantId: string;
  clientId: string;
  certificatePath: string;
  passphrase: string | undefined;
  authorityHost: string | undefined;
  url: URL;
  scope: string;
  /** Local only: how many token requests the token endpoint received, and what it saw. */
  seen?: () => { tokenRequests: number; assertionHeader: Record<string, unknown> | undefined };
  close: () => Promise<void>;
}

const flags = parseFlags();
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

const setup = flags.local ? await local() : fromEnvironment();
const say = (line = ''): void => {
  if (!flags.json) console.log(line);
};
try {
  // The point of the example: the credential is typed as core-auth's TokenCredential.
  const credential: TokenCredential = new ClientCertificateCredential(
    setup.tenantId,
    setup.clientId,
    { certificatePath: setup.certificatePath, passphrase: setup.passphrase },
    setup.authorityHost === undefined ? {} : { authorityHost: setup.authorityHost },
  );
  const client = new ApiClient(setup.url.origin, credential, { scopes: setup.scope });
  const path = `${setup.url.pathname}${setup.url.search}`;

  say(`credential  ${credential.constructor.name} ${JSON.stringify(credential)}`);
  say(`client      ApiClient(${setup.url.origin}, credential, { scopes: ${JSON.stringify(setup.scope)} })`);
  const calls = [];
  for (let i = 1; i <= 2; i += 1) {
    const answer = await client.get(path);
    calls.push(answer);
    say(`GET ${path} #${i} → ${answer.status} ${summarize(answer.body)}`);
  }
  const seen = setup.seen?.();
  const report = {
    mode: flags.local ? 'local' : 'azure',
    credential: JSON.parse(JSON.stringify(credential)) as unknown, // client id, endpoint, certificate summary: no secret
    calls: calls.map((c) => ({ status: c.status, body: c.body })),
    getTokenCalls: client.getTokenCalls,
    ...(seen === undefined ? {} : { tokenRequests: seen.tokenRequests, assertionHeader: seen.assertionHeader }),
  };
  if (seen !== undefined) {
    say(`client asked for a token ${client.getTokenCalls} times; the token endpoint received ${seen.tokenRequests} request(s) (the rest came from the cache)`);
    say(`assertion header the token endpoint saw: ${JSON.stringify(seen.assertionHeader)}`);
  }
  if (flags.json) console.log(JSON.stringify(report, null, 2));
  say('Done.');
} catch (error) {
  const e = error as { code?: string; name?: string; message?: string };
  console.error(`azure-sdk example failed: ${error instanceof ApiError ? `HTTP ${error.status}` : (e.code ?? e.name)}: ${e.message}`);
  process.exitCode = 1;
} finally {
  await setup.close();
}

function fromEnvironment(): Setup {
  const env = process.env;
  const missing = ['AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_CERTIFICATE_PATH'].filter((name) => !env[name]);
  if (missing.length > 0) {
    console.error(`azure-sdk example: set ${missing.join(', ')} (or use --local)\n${USAGE}`);
    process.exit(2);
  }
  return {
    tenantId: env.AZURE_TENANT_ID!,
    clientId: env.AZURE_CLIENT_ID!,
    certificatePath: env.AZURE_CLIENT_CERTIFICATE_PATH!,
    passphrase: env.AZURE_CLIENT_CERTIFICATE_PASSWORD || undefined,
    authorityHost: env.AZURE_AUTHORITY_HOST || undefined,
    url: new URL(flags.url ?? 'https://management.azure.com/subscriptions?api-version=2022-12-01'),
    scope: flags.scope ?? 'https://management.azure.com/.default',
    close: async () => {},
  };
}

/** A throwaway certificate, a token endpoint that behaves as Entra ID v2 and knows it, and an API that accepts its tokens. */
async function local(): Promise<Setup> {
  const tenantId = 'azure-sdk-local';
  const clientId = '00000000-0000-0000-0000-00000000a2d5';
  const api = 'https://api.example.test';
  const dir = await mkdtemp(join(tmpdir(), 'x-azure-sdk-'));
  const passphrase = process.env.AZURE_CLIENT_CERTIFICATE_PASSWORD || randomBytes(18).toString('base64url');
  const made = makeSelfSignedPfx({ commonName: 'azure-sdk-example', passphrase });
  const certificatePath = join(dir, 'app.pfx');
  await writeFile(certificatePath, made.pfx, { mode: 0o600 });
  const entra = await startEntraServer({ tenantId, clients: [{ clientId, certificates: [made.certificatePem] }] });
  const resource = await startResourceServer({ issuer: entra.issuer('v2'), jwksUri: entra.jwksUri, audience: api });
  return {
    tenantId,
    clientId,
    certificatePath,
    passphrase,
    authorityHost: entra.url,
    url: new URL(`${resource.url}/items?top=1`),
    scope: flags.scope ?? `${api}/.default`,
    seen: () => ({ tokenRequests: entra.requests.length, assertionHeader: entra.requests[0]?.assertion?.header }),
    close: async () => {
      await resource.close();
      await entra.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function parseFlags() {
  try {
    return parseArgs({
      options: {
        local: { type: 'boolean', default: false },
        url: { type: 'string' },
        scope: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (error) {
    console.error(`azure-sdk example: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

function summarize(body: unknown): string {
  const text = JSON.stringify(body) ?? '';
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
