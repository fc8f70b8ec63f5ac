/**
 * `x-assertion sign <file>`: a signed JWT client assertion on stdout.
 *
 * @module
 */
import { algorithmsForKey, createClientAssertion, type JwsAlgorithm, type ThumbprintHeader } from '@x/assertion';
import {
  PASSPHRASE_HELP,
  PASSPHRASE_OPTIONS,
  optChoice,
  optEndpointUrl,
  optPositiveInt,
  optString,
  requireString,
  type Command,
} from '../args.js';
import { credentialFlags, loadCredentialFromFile } from '../certs.js';
import { printLine } from '../io.js';

const usage =
  'usage: x-assertion sign <file> [--key <file>] --client-id <id> --audience <url> [--lifetime <s>] [--alg <alg>] [--thumbprint x5t|x5t#S256|both] [--x5c] [--kid <kid>]';

const THUMBPRINTS: readonly ThumbprintHeader[] = ['x5t', 'x5t#S256', 'both'];

/** The `sign` command. */
export const signCommand: Command = {
  name: 'sign',
  usage,
  help: `Sign a JWT client assertion (RFC 7523; Microsoft Entra ID certificate
credentials) and print the compact JWT alone on stdout.

<file> is a PEM bundle (certificate + key), a PFX/PKCS#12 container, or a
certificate (PEM/DER) whose key is given with --key. An expired or not yet
valid certificate is refused.

Options:
  --client-id <id>          client (application) id: iss and sub (required)
  --audience <url>          aud: the token endpoint URL, exactly (required)
  --lifetime <s>            seconds until exp (default 300; at most @x/assertion's limit)
  --alg <alg>               one the key allows, the default first (@x/assertion's table):
                            RSA: ${algorithmsForKey('RSA').join(', ')}
                            EC: ${(['P-256', 'P-384', 'P-521'] as const).map((c) => algorithmsForKey('EC', c).join(', ')).join(', ')} by curve; Ed25519: EdDSA
  --thumbprint <which>      x5t, x5t#S256 or both (default both)
  --x5c                     include the certificate chain as x5c
  --kid <kid>               a kid header (servers that select keys by kid, e.g.
                            oidc-provider; the JWKS kid is the x5t#S256 thumbprint)
  --key <file>              the private key, when <file> holds only the certificate
${PASSPHRASE_HELP}`,
  options: {
    key: { type: 'string' },
    'client-id': { type: 'string' },
    audience: { type: 'string' },
    lifetime: { type: 'string' },
    alg: { type: 'string' },
    thumbprint: { type: 'string' },
    x5c: { type: 'boolean' },
    kid: { type: 'string' },
    ...PASSPHRASE_OPTIONS,
  },
  positionals: { min: 1, max: 1, names: '<file>' },
  async run({ ctx, values, positionals }) {
    const clientId = requireString(values, 'client-id', usage);
    requireString(values, 'audience', usage);
    const audience = optEndpointUrl(values, 'audience', usage)!;
    const lifetimeSeconds = optPositiveInt(values, 'lifetime', usage);
    const algorithm = optString(values, 'alg') as JwsAlgorithm | undefined;
    const thumbprint = optChoice(values, 'thumbprint', THUMBPRINTS, usage);
    const kid = optString(values, 'kid');
    const credential = await loadCredentialFromFile(positionals[0]!, await credentialFlags(ctx, values, usage), { keyPath: optString(values, 'key') });
    const jwt = await createClientAssertion(credential, {
      clientId,
      audience,
      includeX5c: values.x5c === true,
      ...(lifetimeSeconds === undefined ? {} : { lifetimeSeconds }),
      ...(algorithm === undefined ? {} : { algorithm }),
      ...(thumbprint === undefined ? {} : { thumbprint }),
      ...(kid === undefined ? {} : { kid }),
    }).finally(() => ('close' in credential ? credential.close() : undefined));
    printLine(ctx.io, jwt);
    return 0;
  },
};
