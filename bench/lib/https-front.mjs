// An HTTPS front on 127.0.0.1 for the local Entra ID v2 endpoint of
// @x/devserver, so MSAL Node (which refuses http: authorities) and our client
// can be measured against the SAME https token endpoint.
//
// Why it is more than a pass-through proxy: the devserver checks the client
// assertion's `aud` against its own http:// token endpoint URL, and it has no
// option to accept another public URL, while MSAL (rightly) puts the https
// URL it calls in `aud`. So this front does what the Entra front door would
// do for that URL, then lets the devserver do the rest:
//   1. counts every token request (the figure "token requests counted at the
//      server" is read here, before anything can be rejected);
//   2. verifies the assertion for real with @x/assertion's verifyClientAssertion:
//      signature by the registered certificate, thumbprint header, iss = sub =
//      client_id, aud = exactly this https token endpoint, time window (5 min
//      skew, as Entra), jti present; a failure is answered as Entra answers it
//      (401 invalid_client, AADSTS 700023 / 700027 / 50027);
//   3. re-signs an equivalent assertion for the devserver's http endpoint with
//      the same key, algorithm and `jti` (so the devserver's single-use `jti`
//      check still sees replays, e.g. MSAL's shared assertion), forwards the
//      form, and relays the answer (status, body, correlation headers).
// Both clients pay the same cost for steps 2–3. Once the devserver can serve
// TLS itself (or take a public URL for `aud`), this front reduces to nothing.
import { createServer } from 'node:https';
import { createClientAssertion, verifyClientAssertion } from '@x/assertion';

const RELAYED_HEADERS = ['content-type', 'cache-control', 'pragma', 'client-request-id', 'x-ms-request-id'];

/**
 * @param {object} options
 * @param {import('@x/devserver').EntraServer} options.devserver
 * @param {string} options.tenantId
 * @param {string} options.clientId
 * @param {import('@x/assertion').CertificateCredential} options.credential - the registered certificate (and its key, to re-sign)
 * @param {{ cert: string, key: string }} options.tls
 */
export async function startHttpsFront({ devserver, tenantId, clientId, credential, tls }) {
  const server = createServer({ ...tls, keepAliveTimeout: 5_000 }, (req, res) => {
    handle(req, res).catch((error) => reply(res, 500, { error: 'server_error', error_description: String(error?.message ?? error) }));
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const host = `127.0.0.1:${port}`;
  const origin = `https://${host}`;
  const tokenEndpoint = `${origin}/${tenantId}/oauth2/v2.0/token`;
  const tokenPath = new URL(tokenEndpoint).pathname;
  const issuer = `${origin}/${tenantId}/v2.0`;
  const metadata = {
    issuer,
    token_endpoint: tokenEndpoint,
    authorization_endpoint: `${origin}/${tenantId}/oauth2/v2.0/authorize`,
    jwks_uri: `${origin}/${tenantId}/discovery/v2.0/keys`,
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    grant_types_supported: ['client_credentials'],
  };
  const stats = { tokenRequests: 0, rejectedHere: 0, otherRequests: 0 };

  async function handle(req, res) {
    const path = new URL(req.url, origin).pathname;
    if (req.method === 'POST' && path === tokenPath) return token(req, res);
    stats.otherRequests++;
    req.resume();
    if (req.method === 'GET' && path === `/${tenantId}/v2.0/.well-known/openid-configuration`) return reply(res, 200, metadata);
    if (req.method === 'GET' && path === `/${tenantId}/discovery/v2.0/keys`) {
      const keys = await fetch(devserver.jwksUri).then((r) => r.json());
      return reply(res, 200, keys);
    }
    return reply(res, 404, { error: 'not_found', error_description: `${req.method} ${path} is not a route` });
  }

  async function token(req, res) {
    stats.tokenRequests++;
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const assertion = form.get('client_assertion');
    if (assertion) {
      const report = await verifyClientAssertion(assertion, credential, {
        clientId: form.get('client_id') ?? '',
        audience: tokenEndpoint,
        clockToleranceSeconds: 300,
      });
      if (!report.valid) {
        stats.rejectedHere++;
        const problem = report.problems[0];
        const code = { AUDIENCE_MISMATCH: 700023, BAD_SIGNATURE: 700027, THUMBPRINT_MISMATCH: 700027, CLIENT_ID_MISMATCH: 700021, EXPIRED: 700024, NOT_YET_VALID: 700024 }[problem.code] ?? 50027;
        return reply(res, 401, { error: 'invalid_client', error_description: `AADSTS${code}: ${problem.message}`, error_codes: [code] });
      }
      const resigned = await createClientAssertion(credential, {
        clientId: report.claims.iss,
        audience: devserver.tokenEndpoint('v2'),
        algorithm: report.header.alg,
        jti: report.claims.jti,
      });
      form.set('client_assertion', resigned);
    }
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    for (const name of ['client-request-id', 'return-client-request-id']) if (req.headers[name]) headers[name] = req.headers[name];
    const answer = await fetch(devserver.tokenEndpoint('v2'), { method: 'POST', headers, body: form.toString() });
    const body = Buffer.from(await answer.arrayBuffer());
    const out = { 'content-length': body.length };
    for (const name of RELAYED_HEADERS) if (answer.headers.has(name)) out[name] = answer.headers.get(name);
    res.writeHead(answer.status, out).end(body);
  }

  return {
    origin,
    host,
    tenantId,
    clientId,
    tokenEndpoint,
    metadata,
    stats,
    /** Token requests received so far. */
    get tokenRequests() {
      return stats.tokenRequests;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
