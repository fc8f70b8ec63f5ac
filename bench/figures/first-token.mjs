// Import + first token in a fresh process: from just before the library's
// `import()` to the first access token in hand (credential construction,
// certificate read, assertion, TLS connection and token request included),
// against the same HTTPS endpoint. Only the small report helper and the
// setup helpers (node: built-ins only) are loaded before the clock starts.
import { msalApplication, msalGetToken, ourCredential } from '../lib/clients.mjs';
import { report } from '../lib/child.mjs';

report(async ({ side, endpoint, pemPath, scope }) => {
  const t0 = performance.now();
  const lib = await import(side === 'ours' ? '@x/token' : '@azure/msal-node');
  const t1 = performance.now();
  let token;
  if (side === 'ours') {
    token = (await ourCredential(lib, endpoint, pemPath).getToken(scope)).token;
  } else {
    token = (await msalGetToken(msalApplication(lib, endpoint, pemPath), scope)).accessToken;
  }
  const t2 = performance.now();
  if (typeof token !== 'string' || token.length === 0) throw new Error(`${side}: no token`);
  return { side, importMs: t1 - t0, firstTokenMs: t2 - t1, totalMs: t2 - t0, sinceProcessStartMs: t2 };
});
