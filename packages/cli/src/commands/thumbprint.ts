/**
 * `x-assertion thumbprint <file>`: thumbprints, subject, issuer and validity
 * of a certificate (PEM, DER, PEM bundle or PFX).
 *
 * @module
 */
import { PASSPHRASE_HELP, PASSPHRASE_OPTIONS, optString, type Command } from '../args.js';
import { credentialFlags, loadCertificateFromFile, printSummary } from '../certs.js';

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
    printSummary(ctx.io, cert, values.json === true);
    return 0;
  },
};
