// pnpm demo --mtls | --dpop: a sender-constrained token, end to end on 127.0.0.1. oidc-provider 8 with
// RFC 8705 (mTLS) and RFC 9449 (DPoP) behind https asking for client certificates; the daemon authenticates
// with its certificate (self_signed_tls_client_auth) and gets a token bound to the certificate (--mtls) or to
// an ephemeral DPoP key (--dpop); a protected API accepts it through createAuthorizedFetch and refuses a
// stolen copy sent as a plain Bearer token. Certificates come from the openssl CLI.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startBoundOidcServer, startBoundResourceServer } from '@x/devserver';
import { ClientCertificateCredential, createAuthorizedFetch } from '@x/token';

const run = promisify(execFile);

/** Runs the demo for `mode` ('mtls' | 'dpop'); `say` prints a line. Returns the report; throws when a check fails. */
export async function runBoundDemo(mode, say) {
  const dir = await mkdtemp(join(tmpdir(), 'x-demo-bound-'));
  const closers = [];
  try {
    const tls = await certificate(dir, 'localhost', ['-addext', 'subjectAltName=IP:127.0.0.1']);
    const daemon = await certificate(dir, 'demo-daemon');
    const x509 = new X509Certificate(daemon.cert);
    const publicJwk = x509.publicKey.export({ format: 'jwk' });
    const server = await startBoundOidcServer({
      clients: [{
        client_id: 'demo-daemon',
        token_endpoint_auth_method: 'self_signed_tls_client_auth',
        tls_client_certificate_bound_access_tokens: mode === 'mtls',
        jwks: { keys: [{ ...publicJwk, x5c: [x509.raw.toString('base64')] }] },
      }],
      tls,
    });
    closers.push(() => server.close());
    say(`1. Server     oidc-provider 8, RFC 8705 + RFC 9449, token endpoint ${server.tokenEndpoint}`);
    say(`   client     demo-daemon, self_signed_tls_client_auth (the TLS handshake authenticates it; no client_assertion)`);

    const credential = new ClientCertificateCredential('demo', 'demo-daemon', { certificate: daemon.cert, privateKey: daemon.key }, {
      tokenEndpoint: server.tokenEndpoint,
      ca: tls.cert,
      clientAuthentication: 'self_signed_tls_client_auth',
      proofOfPossession: mode,
    });
    const token = await credential.getToken('api.read');
    const cnf = JSON.parse(Buffer.from(token.token.split('.')[1], 'base64url').toString('utf8')).cnf;
    const expected = mode === 'mtls' ? { 'x5t#S256': Buffer.from(x509.fingerprint256.replaceAll(':', ''), 'hex').toString('base64url') } : undefined;
    say(`2. Token      ${token.tokenType}, ${token.token.length} characters (not shown), cnf ${JSON.stringify(cnf)}`);
    if (expected !== undefined) say(`   certificate x5t#S256 ${expected['x5t#S256']} (from its SHA-256 fingerprint)`);

    const jwksAnswer = await get(server.jwksUri, tls.cert);
    const resource = await startBoundResourceServer({ jwks: JSON.parse(jwksAnswer.body), tls });
    closers.push(() => resource.close());
    const api = createAuthorizedFetch(credential, 'api.read');
    const ok = await api(`${resource.url}/me`);
    say(`3. Resource   GET /me via createAuthorizedFetch (${mode === 'mtls' ? 'over mTLS with the certificate' : 'Authorization: DPoP + DPoP proof with ath'}) → ${ok.status} ${await ok.text()}`);
    const stolen = await get(`${resource.url}/me`, tls.cert, { authorization: `Bearer ${token.token}` });
    say(`4. Stolen     the same token sent as Bearer from another machine → ${stolen.status} ${stolen.headers['www-authenticate']} (${resource.refusals.at(-1)})`);
    if (ok.status !== 200 || stolen.status !== 401 || (expected !== undefined && cnf?.['x5t#S256'] !== expected['x5t#S256']) || (mode === 'dpop' && typeof cnf?.jkt !== 'string')) {
      throw Object.assign(new Error('the demo did not get the expected answers'), { code: 'DEMO_CHECK_FAILED' });
    }
    say('Done: servers stopped, temporary files removed.');
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

async function certificate(dir, name, extra = []) {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.crt`);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', certPath, '-subj', `/CN=${name}`, '-days', '1', ...extra]);
  return { cert: await readFile(certPath, 'utf8'), key: await readFile(keyPath, 'utf8') };
}

function get(url, ca, headers = {}) {
  return new Promise((resolve, reject) => {
    request(url, { ca, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    }).on('error', reject).end();
  });
}
