/**
 * `x-assertion inspect <jwt|->`: decode a JWT client assertion and, with
 * `--cert`, verify it.
 *
 * @module
 */
import { MAX_INPUT_BYTES, verifyClientAssertion } from '@x/assertion';
import { PASSPHRASE_HELP, PASSPHRASE_OPTIONS, optEndpointUrl, optString, type Command } from '../args.js';
import { credentialFlags, isoSeconds, loadCertificateFromFile } from '../certs.js';
import { CliError } from '../errors.js';
import { printJson, type InputStream } from '../io.js';

const usage = 'usage: x-assertion inspect <jwt|-> [--cert <file> [--client-id <id>] [--audience <url>]] [--json]';

const TIME_CLAIMS = ['iat', 'nbf', 'exp'] as const;

/**
 * Read standard input to its end as UTF-8 text, at most `MAX_INPUT_BYTES`
 * (@x/assertion's one input cap; an assertion is a few kilobytes, with an x5c chain).
 *
 * @throws {@link CliError} `ERR_INPUT_TOO_LARGE` when there is more
 */
async function readAll(stdin: InputStream): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stdin) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    chunks.push(bytes);
    length += bytes.length;
    if (length > MAX_INPUT_BYTES) throw new CliError('ERR_INPUT_TOO_LARGE', `Standard input is larger than ${MAX_INPUT_BYTES} bytes.`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Decode a compact JWS's header and payload without checking anything. */
export function decodeJwt(jwt: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  if (jwt.length > MAX_INPUT_BYTES) {
    throw new CliError('ERR_MALFORMED_JWT', `The input is ${jwt.length} characters long; a JWT client assertion is at most ${MAX_INPUT_BYTES}.`);
  }
  const parts = jwt.split('.', 4);
  const decode = (segment: string | undefined): Record<string, unknown> | undefined => {
    if (segment === undefined || !/^[A-Za-z0-9_-]+$/.test(segment)) return undefined;
    try {
      const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  const header = parts.length === 3 ? decode(parts[0]) : undefined;
  const claims = parts.length === 3 ? decode(parts[1]) : undefined;
  if (!header || !claims) {
    throw new CliError('ERR_MALFORMED_JWT', 'The input is not a compact JWT (three base64url segments with a JSON header and claims).');
  }
  return { header, claims };
}

/** `iat`, `nbf`, `exp` as ISO 8601 UTC strings, for those present as numbers. */
function isoTimes(claims: Record<string, unknown>): Record<string, string> {
  const times: Record<string, string> = {};
  for (const name of TIME_CLAIMS) {
    const v = claims[name];
    if (typeof v === 'number' && Number.isFinite(v)) {
      const d = new Date(v * 1000);
      if (!Number.isNaN(d.getTime())) times[name] = isoSeconds(d);
    }
  }
  return times;
}

function textBlock(title: string, obj: Record<string, unknown>, times: Record<string, string> = {}): string {
  const width = Math.max(8, ...Object.keys(obj).map((k) => k.length + 2));
  const lines = Object.entries(obj).map(([k, v]) => {
    let shown: string;
    if (k === 'x5c' && Array.isArray(v)) shown = `[${v.length} certificate(s); --json shows them]`;
    else shown = typeof v === 'string' ? v : JSON.stringify(v);
    if (times[k] !== undefined) shown += ` (${times[k]})`;
    return `  ${k.padEnd(width)}${shown}`;
  });
  return `${title}:\n${lines.join('\n')}\n`;
}

/** The `inspect` command. */
export const inspectCommand: Command = {
  name: 'inspect',
  usage,
  help: `Decode a JWT client assertion: header and claims, with iat/nbf/exp also
shown as ISO 8601 UTC times. Give the JWT as an argument, or '-' to read it
from stdin.

With --cert, verify it: signature against the certificate's public key,
thumbprint headers, lifetime, and the expectations given. Exit status 1 when
the assertion is invalid (the problems are listed).

Options:
  --cert <file>             certificate to verify against (PEM, DER, PEM bundle or PFX;
                            of a bundle, the leaf: the certificate of the key in it, else
                            the one that issued no other)
  --client-id <id>          expected iss/sub (with --cert)
  --audience <url>          expected aud (with --cert)
  --json                    print one JSON object (fields in the README)
${PASSPHRASE_HELP}`,
  options: {
    cert: { type: 'string' },
    'client-id': { type: 'string' },
    audience: { type: 'string' },
    json: { type: 'boolean' },
    ...PASSPHRASE_OPTIONS,
  },
  positionals: { min: 1, max: 1, names: '<jwt|->' },
  async run({ ctx, values, positionals }) {
    const audience = optEndpointUrl(values, 'audience', usage);
    const arg = positionals[0]!;
    const jwt = (arg === '-' ? await readAll(ctx.io.stdin) : arg).trim();
    const { header, claims } = decodeJwt(jwt);
    const times = isoTimes(claims);

    let verification: { valid: boolean; problems: Array<{ code: string; message: string }> } | undefined;
    const certPath = optString(values, 'cert');
    if (certPath !== undefined) {
      const cert = await loadCertificateFromFile(certPath, await credentialFlags(ctx, values, usage));
      const clientId = optString(values, 'client-id');
      const report = await verifyClientAssertion(jwt, cert, {
        ...(clientId === undefined ? {} : { clientId }),
        ...(audience === undefined ? {} : { audience }),
      });
      verification = { valid: report.valid, problems: report.problems.map((p) => ({ code: p.code, message: p.message })) };
    } else if (values['client-id'] !== undefined || values.audience !== undefined) {
      ctx.io.stderr.write('x-assertion: warning: --client-id and --audience are checked only with --cert\n');
    }

    if (values.json) {
      printJson(ctx.io, { header, claims, times, ...(verification ? { verification } : {}) });
    } else {
      let out = textBlock('header', header) + textBlock('claims', claims, times);
      if (verification) {
        out += `verification: ${verification.valid ? 'valid' : 'INVALID'}\n`;
        out += verification.problems.map((p) => `  - ${p.code}: ${p.message}\n`).join('');
      }
      ctx.io.stdout.write(out);
    }
    if (verification && !verification.valid) {
      const n = verification.problems.length;
      throw new CliError('ERR_INVALID_ASSERTION', `The assertion failed verification (${n} problem${n === 1 ? '' : 's'}: ${verification.problems.map((p) => p.code).join(', ')}).`);
    }
    return 0;
  },
};
