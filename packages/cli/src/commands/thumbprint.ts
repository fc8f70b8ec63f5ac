/**
 * `x-assertion thumbprint <file>`: thumbprints, subject, issuer and validity
 * of a certificate (PEM, DER, PEM bundle or PFX).
 *
 * @module
 */
import { PASSPHRASE_HELP, PASSPHRASE_OPTIONS, optString, type Command } from '../args.js';
import { certificateSummary, credentialFlags, loadCertificateFromFile } from '../certs.js';
import { printJson } from '../io.js';

const usage = 'usage: x-assertion thumbprint <file> [--key <file>] [--json]';

/** The `thumbprint` command. */
export const thumbprintCommand: Command = {
  name: 'thumbprint',
  usage,
  help: `Show a certificate's thumbprints, subject, issuer and validity period.

<file> is a PEM or DER certificate, a PEM bundle (the leaf is shown: the
certificate of the key in the bundle, else the one that issued no other
certificate; no passphrase is needed), or a PFX/PKCS#12 container (the
passphrase is needed when it is encrypted). The validity period is shown,
not enforced.

Options:
  --key <file>              a separate private key: the pair is loaded and checked
  --json                    print one JSON object (fields in the README)
${PASSPHRASE_HELP}`,
  options: { key: { type: 'string' }, json: { type: 'boolean' }, ...PASSPHRASE_OPTIONS },
  positionals: { min: 1, max: 1, names: '<file>' },
  async run({ ctx, values, positionals }) {
    const cert = await loadCertificateFromFile(positionals[0]!, await credentialFlags(ctx, values, usage), optString(values, 'key'));
    const summary = certificateSummary(cert);
    if (values.json) {
      printJson(ctx.io, summary);
      return 0;
    }
    const rows: Array<[string, unknown]> = [
      ['subject', summary.subject],
      ['issuer', summary.issuer],
      ['serial', summary.serialNumber],
      ['not before', summary.notBefore],
      ['not after', `${summary.notAfter as string}${summary.validNow ? '' : '  (not valid now)'}`],
      ['key', `${cert.keyType}${cert.keyType === 'RSA' ? ` ${cert.keySize}` : cert.curve ? ` ${cert.curve}` : ''}`],
      ['sha1', summary.sha1],
      ['sha256', summary.sha256],
      ['x5t', summary.x5t],
      ['x5t#S256', summary['x5t#S256']],
    ];
    ctx.io.stdout.write(rows.map(([k, v]) => `${`${k}:`.padEnd(12)}${String(v)}\n`).join(''));
    return 0;
  },
};
