/**
 * `x-assertion jwks <file>...`: the public keys of one or more certificates
 * as a JWKS, or as Microsoft Entra ID `keyCredentials` entries.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { CertificateInfo, JwsAlgorithm } from '@x/assertion';
import { PASSPHRASE_HELP, PASSPHRASE_OPTIONS, optString, type Command } from '../args.js';
import { credentialFlags, formatDn, isoSeconds, loadCertificateFromFile } from '../certs.js';
import { UsageError } from '../errors.js';
import { printJson } from '../io.js';

const usage = 'usage: x-assertion jwks <file>... [--alg <alg>] [--entra]';

/**
 * A key id for an Entra `keyCredentials` entry derived from the certificate,
 * so running the command again gives the same entry: the first 16 bytes of
 * the SHA-256 thumbprint as an RFC 9562 version 8 (custom) UUID.
 */
export function certificateKeyId(cert: CertificateInfo): string {
  const b = createHash('sha256').update(cert.leaf).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * One entry of an Entra application's `keyCredentials` (Microsoft Graph
 * `keyCredential` resource, as the app manifest shows it).
 */
export function entraKeyCredential(cert: CertificateInfo): Record<string, string> {
  return {
    customKeyIdentifier: cert.thumbprints.sha1Hex,
    displayName: formatDn(cert.subject),
    endDateTime: isoSeconds(cert.notAfter),
    key: Buffer.from(cert.leaf).toString('base64'),
    keyId: certificateKeyId(cert),
    startDateTime: isoSeconds(cert.notBefore),
    type: 'AsymmetricX509Cert',
    usage: 'Verify',
  };
}

/** The `jwks` command. */
export const jwksCommand: Command = {
  name: 'jwks',
  usage,
  help: `Print the public keys of one or more certificates as a JSON Web Key Set
({"keys":[...]}), to register with an authorization server; during a key
rotation give the old and the new certificate so both are accepted.

Each key has kty and its public parameters, kid (the x5t#S256 thumbprint),
use "sig", alg, x5t, x5t#S256 and x5c (the chain, leaf first). A certificate
given twice is listed once. Files may be certificates alone (PEM or DER),
PEM bundles or PFX containers; of a bundle, the leaf is listed (the
certificate of the key in it, else the one that issued no other).

Options:
  --alg <alg>               the alg member of every key: one the key allows (default
                            as sign: @x/assertion's default for the key)
  --entra                   print {"keyCredentials":[...]} entries for a Microsoft Entra
                            app manifest / Microsoft Graph PATCH instead (fields in the README)
${PASSPHRASE_HELP}`,
  options: { alg: { type: 'string' }, entra: { type: 'boolean' }, ...PASSPHRASE_OPTIONS },
  positionals: { min: 1, max: Infinity, names: '<file>...' },
  async run({ ctx, values, positionals }) {
    const alg = optString(values, 'alg') as JwsAlgorithm | undefined;
    const flags = await credentialFlags(ctx, values, usage);
    const certs: CertificateInfo[] = [];
    for (const path of positionals) {
      const cert = await loadCertificateFromFile(path, flags);
      if (alg !== undefined && !cert.algorithms.includes(alg)) {
        throw new UsageError(`--alg ${alg} does not fit the ${cert.keyType} key of ${path} (it allows ${cert.algorithms.join(', ')}).`, usage);
      }
      if (values.entra && cert.keyType !== 'RSA') {
        ctx.io.stderr.write(`x-assertion: warning: ${path}: Microsoft Entra ID accepts RSA certificates only for client credentials\n`);
      }
      if (!certs.some((c) => c.kid === cert.kid)) certs.push(cert);
    }
    if (values.entra) {
      printJson(ctx.io, { keyCredentials: certs.map(entraKeyCredential) });
    } else {
      printJson(ctx.io, { keys: await Promise.all(certs.map((c) => c.toJwk(alg === undefined ? {} : { alg }))) });
    }
    return 0;
  },
};
