/**
 * `x-assertion create-certificate`: a new key pair and self-signed
 * certificate, written as a passphrase-protected PFX (OpenSSL 3's default
 * encoding), so a key rotation needs no other tool.
 *
 * @module
 */
import { writeFile } from 'node:fs/promises';
import { loadCredential } from '@x/assertion';
import { PASSPHRASE_OPTIONS, optChoice, optPositiveInt, optString, passphraseSource, requireString, type Command } from '../args.js';
import { printSummary } from '../certs.js';
import { CliError, UsageError } from '../errors.js';
import { KEY_KINDS, createSelfSignedPfx, type KeyKind } from '../self-signed.js';

const usage =
  "usage: x-assertion create-certificate --subject 'CN=<name>[, O=<org>…]' --out <new.pfx> [--pem <new.pem>] [--days <n>] [--key rsa-2048|rsa-3072|ec-p256] [--json]";

/** Attributes `--subject` accepts (RFC 4514 §3 short names). */
const ATTRIBUTES = ['CN', 'O', 'OU', 'L', 'ST', 'C'] as const;

/**
 * Parse `--subject` as an RFC 4514 string without escapes: `CN=my-daemon,
 * O=Example`, most specific first. Returns the attributes in encoding order
 * (RFC 4514 §2.1 writes the RDNs in reverse).
 *
 * @throws {@link UsageError} for an unknown attribute, an empty value, escapes or multi-valued RDNs, or no CN
 */
export function parseSubject(subject: string): Array<[string, string]> {
  if (/[\\+"<>;#]/.test(subject)) throw new UsageError('--subject takes attr=value pairs separated by commas, without escapes, quotes or +.', usage);
  const rdns = subject.split(',').map((part) => {
    const eq = part.indexOf('=');
    const attribute = part.slice(0, eq).trim().toUpperCase();
    const value = part.slice(eq + 1).trim();
    if (eq < 0 || value === '' || !(ATTRIBUTES as readonly string[]).includes(attribute)) {
      throw new UsageError(`--subject: each part is attr=value with attr one of ${ATTRIBUTES.join(', ')} (e.g. 'CN=my-daemon, O=Example').`, usage);
    }
    return [attribute, value] as [string, string];
  });
  if (!rdns.some(([a]) => a === 'CN')) throw new UsageError("--subject needs a CN (e.g. 'CN=my-daemon').", usage);
  return rdns.reverse();
}

/** Write a new file; never replaces one (a rotation must not destroy the key in use). */
async function writeNew(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  try {
    await writeFile(path, data, { flag: 'wx', mode });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new CliError('ERR_FILE_WRITE', code === 'EEXIST' ? `${path} exists: not overwritten (choose a new name).` : `Cannot write ${path} (${code}).`);
  }
}

/** The `create-certificate` command. */
export const createCertificateCommand: Command = {
  name: 'create-certificate',
  usage,
  help: `Make a new key pair and a self-signed certificate for it, and write them as
a passphrase-protected PFX in OpenSSL 3's default encoding (AES-256-CBC bags,
PBKDF2-HMAC-SHA256, SHA-256 MAC), readable by openssl, Windows, Azure and
this toolkit. The certificate's thumbprints are printed as by thumbprint.
Existing files are never overwritten.

Options:
  --subject <dn>            subject (and issuer): attr=value pairs, most specific first,
                            e.g. 'CN=my-daemon, O=Example' (attrs ${ATTRIBUTES.join(', ')}; CN required)
  --out <file>              the PFX to write (mode 0600)
  --pem <file>              also write the certificate alone as PEM (public: for
                            upload to Entra ID or a JWKS)
  --days <n>                validity in days from now (default 365)
  --key <kind>              ${KEY_KINDS.join(', ')} (default rsa-2048; Entra ID takes RSA)
  --json                    print the summary as JSON (fields as thumbprint --json)
  --passphrase-env <NAME>   the PFX passphrase from environment variable NAME
  --passphrase-file <path>  the passphrase from a file (one trailing newline is dropped)
                            Without either, it is prompted for twice (no echo) when stdin
                            is a terminal; never on the command line.`,
  options: {
    subject: { type: 'string' },
    out: { type: 'string' },
    pem: { type: 'string' },
    days: { type: 'string' },
    key: { type: 'string' },
    json: { type: 'boolean' },
    'passphrase-env': PASSPHRASE_OPTIONS['passphrase-env'],
    'passphrase-file': PASSPHRASE_OPTIONS['passphrase-file'],
  },
  positionals: { min: 0, max: 0, names: 'no arguments' },
  async run({ ctx, values }) {
    const subject = parseSubject(requireString(values, 'subject', usage));
    const out = requireString(values, 'out', usage);
    const pem = optString(values, 'pem');
    const days = optPositiveInt(values, 'days', usage, 'days') ?? 365;
    const key = optChoice<KeyKind>(values, 'key', KEY_KINDS, usage);
    const source = await passphraseSource(ctx, values, usage);
    let passphrase = source.value;
    if (passphrase === undefined && source.prompt) {
      passphrase = await source.prompt(out);
      if ((await source.prompt(`${out} (again)`)) !== passphrase) throw new CliError('ERR_PASSPHRASE_SOURCE', 'The two passphrases differ.');
    }
    if (passphrase === undefined) throw new UsageError('A passphrase is needed: --passphrase-env <NAME>, --passphrase-file <path>, or a terminal to prompt on.', usage);
    if (passphrase === '') throw new CliError('ERR_PASSPHRASE_SOURCE', 'The passphrase is empty: a PFX with an empty passphrase protects nothing.');

    const made = createSelfSignedPfx({ subject, passphrase, days, ...(key === undefined ? {} : { key }) });
    // Read back what will be written, with the library's loader: the file opens, and the summary is of its bytes.
    const credential = await loadCredential({ pfx: made.pfx, passphrase });
    await writeNew(out, made.pfx, 0o600);
    if (pem !== undefined) await writeNew(pem, made.certificatePem, 0o644);
    printSummary(ctx.io, credential, values.json === true);
    return 0;
  },
};
