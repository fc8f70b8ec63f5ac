/**
 * `x-assertion token <cert-file>`: an access token by the client credentials
 * grant with a certificate client assertion (Microsoft Entra ID v2 / v1, or
 * any RFC 6749 token endpoint).
 *
 * @module
 */
import { PASSPHRASE_HELP, PASSPHRASE_OPTIONS, optString, requireString, type Command } from '../args.js';
import type { CertificateCredential } from '@x/assertion';
import { credentialFlags, isoSeconds, loadCredentialFromFile } from '../certs.js';
import { UsageError } from '../errors.js';
import { printJson, printLine } from '../io.js';

const usage =
  'usage: x-assertion token <cert-file> --tenant <t> --client-id <id> --scope <s> [--authority-host <url> | --token-endpoint <url> | --issuer <url>] [--v1 [--resource <r>]] [--proxy <url>] [--json]';

/** The `token` command. */
export const tokenCommand: Command = {
  name: 'token',
  usage,
  help: `Get an access token by the OAuth 2.0 client credentials grant, authenticating
with a JWT client assertion signed by the certificate's key, and print the
access token alone on stdout (or a JSON object with --json).

<cert-file> is a PEM bundle or a PFX/PKCS#12 container (default:
$AZURE_CLIENT_CERTIFICATE_PATH).

Options:
  --tenant <t>              Entra tenant id or domain (default: $AZURE_TENANT_ID);
                            not needed with --token-endpoint or --issuer
  --client-id <id>          client (application) id (default: $AZURE_CLIENT_ID)
  --scope <s>               scope to request, e.g. https://graph.microsoft.com/.default
                            (repeatable; required except with --v1 --resource)
  --authority-host <url>    Entra authority host (default: $AZURE_AUTHORITY_HOST, else
                            https://login.microsoftonline.com)
  --token-endpoint <url>    use this token endpoint URL as is (any RFC 6749 server)
  --issuer <url>            discover the token endpoint from this OpenID Connect issuer
  --v1                      the Entra v1 endpoint (/oauth2/token, resource= instead of scope=)
  --resource <r>            the v1 resource, instead of --scope (default: the scope
                            without /.default)
  --proxy <url>             forward proxy for the token request, e.g. http://proxy:3128
                            (default: $HTTPS_PROXY / $HTTP_PROXY, honouring $NO_PROXY);
                            extra CA certificates: $NODE_EXTRA_CA_CERTS
  --json                    print a JSON object: token, type, expiry, granted scope
                            (fields in the README)
  --key <file>              the private key, when <cert-file> holds only the certificate
${PASSPHRASE_HELP}
                            $AZURE_CLIENT_CERTIFICATE_PASSWORD is used when neither is given.`,
  options: {
    tenant: { type: 'string' },
    'client-id': { type: 'string' },
    scope: { type: 'string', multiple: true },
    'authority-host': { type: 'string' },
    'token-endpoint': { type: 'string' },
    issuer: { type: 'string' },
    v1: { type: 'boolean' },
    resource: { type: 'string' },
    proxy: { type: 'string' },
    json: { type: 'boolean' },
    key: { type: 'string' },
    ...PASSPHRASE_OPTIONS,
  },
  positionals: { min: 0, max: 1, names: '<cert-file>' },
  async run({ ctx, values, positionals }) {
    const env = ctx.io.env;
    const certPath = positionals[0] ?? nonEmpty(env.AZURE_CLIENT_CERTIFICATE_PATH);
    if (certPath === undefined) throw new UsageError('Missing <cert-file> (or AZURE_CLIENT_CERTIFICATE_PATH).', usage);
    const endpointFlags = (['authority-host', 'token-endpoint', 'issuer'] as const).filter((f) => values[f] !== undefined);
    if (endpointFlags.length > 1) throw new UsageError(`Give only one of ${endpointFlags.map((f) => `--${f}`).join(', ')}.`, usage);
    const tokenEndpoint = optString(values, 'token-endpoint');
    const issuer = optString(values, 'issuer');
    const generic = tokenEndpoint !== undefined || issuer !== undefined;
    const authorityHost = optString(values, 'authority-host') ?? (generic ? undefined : nonEmpty(env.AZURE_AUTHORITY_HOST));
    // The tenant names the Entra endpoint; a generic token endpoint or issuer needs none.
    const tenantId = generic ? (optString(values, 'tenant') ?? env.AZURE_TENANT_ID ?? '') : requireString(values, 'tenant', usage, env.AZURE_TENANT_ID);
    const clientId = requireString(values, 'client-id', usage, env.AZURE_CLIENT_ID);

    const v1 = values.v1 === true;
    const resource = optString(values, 'resource');
    if (resource !== undefined && !v1) throw new UsageError('--resource needs --v1 (v2 takes --scope <resource>/.default).', usage);
    // v1 takes one resource: --resource as is, or the scope without "/.default" (the library maps it).
    const scopes = resource !== undefined ? [resource] : ((values.scope as string[] | undefined) ?? []);
    if (scopes.length === 0) throw new UsageError(`Missing required option --scope${v1 ? ' (or --resource)' : ''}.`, usage);

    const proxy = optString(values, 'proxy');
    if (proxy !== undefined && !/^https?:$/.test(URL.canParse(proxy) ? new URL(proxy).protocol : '')) {
      throw new UsageError('--proxy must be an http: or https: URL.', usage);
    }

    const flags = await credentialFlags(ctx, values, usage, 'AZURE_CLIENT_CERTIFICATE_PASSWORD');
    const { ClientCertificateCredential, isPkcs11Uri } = await import('@x/token');
    // A pkcs11: URI goes to @x/token as is: it opens the key in the token itself.
    const certificate = isPkcs11Uri(certPath)
      ? certPath
      : ((await loadCredentialFromFile(certPath, flags, { keyPath: optString(values, 'key') })) as CertificateCredential);
    // X_TOKEN_REDIS_URL: share the token with the fleet through @x/token-redis (loaded only then).
    const redisUrl = nonEmpty(env.X_TOKEN_REDIS_URL);
    const tokenStore = redisUrl === undefined ? undefined : (await import('@x/token-redis')).createRedisTokenStore({ url: redisUrl });
    const client = new ClientCertificateCredential(tenantId, clientId, certificate, {
      ...(authorityHost === undefined ? {} : { authorityHost }),
      ...(tokenEndpoint === undefined ? {} : { tokenEndpoint }),
      ...(issuer === undefined ? {} : { issuer }),
      ...(tokenStore === undefined ? {} : { tokenStore }),
      ...(proxy === undefined ? {} : { proxy }),
      endpointVersion: v1 ? 'v1' : 'v2',
    });
    let response;
    try {
      response = await client.getTokenResponse(scopes);
    } finally {
      await tokenStore?.close();
    }
    if (values.json) {
      printJson(ctx.io, {
        accessToken: response.accessToken,
        tokenType: response.tokenType,
        expiresIn: response.expiresIn,
        expiresOn: isoSeconds(new Date(response.expiresOnTimestamp)),
        expiresOnTimestamp: response.expiresOnTimestamp,
        refreshAfter: isoSeconds(new Date(response.refreshAfterTimestamp)),
        refreshAfterTimestamp: response.refreshAfterTimestamp,
        scope: response.scope ?? null,
        resource: response.resource ?? null,
        extExpiresIn: response.extExpiresIn ?? null,
        endpointVersion: v1 ? 'v1' : 'v2',
      });
    } else {
      printLine(ctx.io, response.accessToken);
    }
    return 0;
  },
};

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}
