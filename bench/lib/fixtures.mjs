// Test certificates, made with the openssl binary as users make them:
// - the client certificate (RSA-2048, self-signed) as a PEM bundle, and as two
//   PFX files: OpenSSL 3 defaults (PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC,
//   2048 iterations, SHA-256 MAC with 2048 iterations) and `-iter 600000`
//   (OpenSSL 3.0 applies `-iter` to the key bag, the certificate bag AND the
//   MAC: three 600,000-iteration derivations);
// - an EC P-256 key for the ES256 figure;
// - a local CA and a server certificate for 127.0.0.1, so the devserver serves
//   HTTPS (`tls`): MSAL Node refuses http: authorities.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function openssl(args, env = {}) {
  return execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }).toString();
}

/** Describes the MAC and bag protection of a PFX, as `openssl pkcs12 -info` prints it. */
function describePfx(path, passphrase) {
  // openssl prints the -info lines on stderr.
  const { stdout, stderr } = spawnSync('openssl', ['pkcs12', '-in', path, '-info', '-noout', '-passin', 'env:PW'], {
    env: { ...process.env, PW: passphrase },
  });
  return `${stdout}${stderr}`.split('\n').filter((l) => /MAC:|PBES2|Keybag|Encrypted data/.test(l)).map((l) => l.trim());
}

/**
 * @param {string} dir - an empty temporary directory
 * @returns the paths and passphrase
 */
export function makeFixtures(dir) {
  const passphrase = 'bench-passphrase-1';
  const p = (name) => join(dir, name);
  const days = ['-days', '2'];

  // Client certificate, RSA-2048.
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('client.key'), '-out', p('client.crt'), ...days, '-subj', '/CN=bench-client']);
  writeFileSync(p('client.pem'), readFileSync(p('client.crt'), 'utf8') + readFileSync(p('client.key'), 'utf8'), { mode: 0o600 });
  const pfxArgs = ['pkcs12', '-export', '-inkey', p('client.key'), '-in', p('client.crt'), '-passout', 'env:PW'];
  openssl([...pfxArgs, '-out', p('client.pfx')], { PW: passphrase });
  openssl([...pfxArgs, '-iter', '600000', '-out', p('client-600k.pfx')], { PW: passphrase });
  // What GnuTLS and NSS write by default: 3DES key bag, RC2-40 certificates, SHA-1 MAC, all at 600,000.
  openssl([...pfxArgs, '-legacy', '-iter', '600000', '-out', p('client-600k-legacy.pfx')], { PW: passphrase });

  // EC P-256 key for ES256 (Entra refuses EC keys; generic RFC 7523 servers take them).
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('ec.key'), '-out', p('ec.crt'), ...days, '-subj', '/CN=bench-ec']);

  // Local CA + TLS server certificate for 127.0.0.1 (EC P-256: cheap handshakes).
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), ...days, '-subj', '/CN=bench local CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  openssl(['req', ...ec, '-keyout', p('tls.key'), '-out', p('tls.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(p('tls.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', p('tls.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('tls.crt'), ...days, '-extfile', p('tls.ext')]);

  return {
    dir,
    passphrase,
    clientPem: p('client.pem'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    pfxDefault: p('client.pfx'),
    pfxSlow: p('client-600k.pfx'),
    pfxSlowLegacy: p('client-600k-legacy.pfx'),
    ecCert: p('ec.crt'),
    ecKey: p('ec.key'),
    caCert: p('ca.crt'),
    tlsCert: p('tls.crt'),
    tlsKey: p('tls.key'),
    pfxDefaultInfo: describePfx(p('client.pfx'), passphrase),
    pfxSlowInfo: describePfx(p('client-600k.pfx'), passphrase),
    pfxSlowLegacyInfo: describePfx(p('client-600k-legacy.pfx'), passphrase),
  };
}
