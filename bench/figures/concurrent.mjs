// 200 concurrent cold getToken calls for one scope in a fresh process. The
// parent counts the token requests that reach the server; here we count
// what the callers got.
import { msalApplication, msalGetToken, ourCredential } from '../lib/clients.mjs';
import { report } from '../lib/child.mjs';

report(async ({ side, endpoint, pemPath, scope, callers }) => {
  const lib = await import(side === 'ours' ? '@x/token' : '@azure/msal-node');
  let call;
  if (side === 'ours') {
    const credential = ourCredential(lib, endpoint, pemPath);
    call = async () => (await credential.getToken(scope)).token;
  } else {
    const app = msalApplication(lib, endpoint, pemPath);
    call = async () => (await msalGetToken(app, scope)).accessToken;
  }
  const start = performance.now();
  const results = await Promise.allSettled(Array.from({ length: callers }, call));
  const ms = performance.now() - start;
  const fulfilled = results.filter((r) => r.status === 'fulfilled');
  const rejected = results.filter((r) => r.status === 'rejected');
  const reason = rejected[0]?.reason;
  return {
    side,
    callers,
    fulfilled: fulfilled.length,
    rejected: rejected.length,
    distinctTokens: new Set(fulfilled.map((r) => r.value)).size,
    firstError: reason ? `${reason.errorCode ?? reason.code ?? reason.name}: ${String(reason.errorMessage ?? reason.message).split('\n')[0].slice(0, 160)}` : undefined,
    ms,
  };
});
