// PS256 and RS256 client assertions/s through @x/pkcs11 (prepareClientAssertion
// over openPkcs11Signer) against raw signing with the binding (pkcs11js
// C_SignInit + C_SignAsync) on the very same SoftHSM key, with the same number
// of sessions (1 and 4) and as many calls in flight as sessions, in
// alternating 100 ms turns. Ours includes everything a token request pays:
// claims, jti, base64url, the pool. Target: ≥ 0.9× raw.
//
// The child makes its own SoftHSM token (SOFTHSM2_CONF → a temp dir, set
// before the module is loaded) and removes it; without SoftHSM it reports why
// it skipped.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareClientAssertion } from '@x/assertion';
import { report } from '../lib/child.mjs';
import { concurrentSlice, interleave, median, ratios } from '../lib/stats.mjs';

const MODULE_PATH = '/usr/lib/softhsm/libsofthsm2.so';
const PIN = 'bench-pin-1234';
const packageDir = new URL('../../packages/pkcs11/', import.meta.url);
const pkcs11js = createRequire(new URL('package.json', packageDir))('pkcs11js');

/** A SoftHSM token holding a non-extractable RSA-2048 key and its certificate (id 01, label bench-key). */
function makeToken(dir) {
  const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'ignore', env: { ...process.env, SOFTHSM2_CONF: join(dir, 'softhsm2.conf') } });
  execFileSync('mkdir', [join(dir, 'tokens')]);
  writeFileSync(join(dir, 'softhsm2.conf'), `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  process.env.SOFTHSM2_CONF = join(dir, 'softhsm2.conf');
  run('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--pin', PIN, '--so-pin', `${PIN}-so`]);
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=bench', '-days', '2']);
  run('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', join(dir, 'key.pem'), '-out', join(dir, 'key.p8')]);
  run('softhsm2-util', ['--import', join(dir, 'key.p8'), '--token', 'bench', '--label', 'bench-key', '--id', '01', '--pin', PIN]);
  run('openssl', ['x509', '-in', join(dir, 'cert.pem'), '-outform', 'der', '-out', join(dir, 'cert.der')]);
  run('pkcs11-tool', ['--module', MODULE_PATH, '--token-label', 'bench', '--login', '--pin', PIN, '--write-object', join(dir, 'cert.der'), '--type', 'cert', '--id', '01']);
}

/** Raw pkcs11js: `sessions` logged-in sessions on the same key, one signature per session at a time. */
function rawSigner(sessions) {
  const library = new pkcs11js.PKCS11();
  library.load(MODULE_PATH);
  try {
    library.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (e) {
    if (!/CKR_CRYPTOKI_ALREADY_INITIALIZED/.test(e.message)) throw e; // @x/pkcs11 initialised it in this process
  }
  const slot = library.C_GetSlotList(true).find((s) => library.C_GetTokenInfo(s).label.trim() === 'bench');
  const handles = Array.from({ length: sessions }, () => library.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION));
  try {
    library.C_Login(handles[0], pkcs11js.CKU_USER, PIN);
  } catch (e) {
    if (!/CKR_USER_ALREADY_LOGGED_IN/.test(e.message)) throw e;
  }
  library.C_FindObjectsInit(handles[0], [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }, { type: pkcs11js.CKA_LABEL, value: 'bench-key' }]);
  const [key] = library.C_FindObjects(handles[0], 1);
  library.C_FindObjectsFinal(handles[0]);
  const mechanisms = {
    RS256: { mechanism: pkcs11js.CKM_SHA256_RSA_PKCS },
    PS256: { mechanism: pkcs11js.CKM_SHA256_RSA_PKCS_PSS, parameter: { type: pkcs11js.CK_PARAMS_RSA_PSS, hashAlg: pkcs11js.CKM_SHA256, mgf: pkcs11js.CKG_MGF1_SHA256, saltLen: 32 } },
  };
  const idle = [...handles];
  return {
    sign: async (alg, data) => {
      const session = idle.pop(); // as many in flight as sessions: never empty
      try {
        library.C_SignInit(session, mechanisms[alg], key);
        return await library.C_SignAsync(session, data, Buffer.alloc(256));
      } finally {
        idle.push(session);
      }
    },
    close: () => {
      for (const s of handles) library.C_CloseSession(s);
      library.close();
    },
  };
}

report(async ({ rounds, sliceMs }) => {
  if (!existsSync(MODULE_PATH)) return { skipped: `SoftHSM 2 not installed (${MODULE_PATH}); apt-get install softhsm2 opensc` };
  const dir = mkdtempSync(join(tmpdir(), 'x-bench-pkcs11-'));
  try {
    makeToken(dir);
    const { openPkcs11Signer } = await import(new URL('dist/index.js', packageDir).href);
    const uri = `pkcs11:token=bench;object=bench-key;type=private?module-path=${MODULE_PATH}&pin-value=${PIN}`;
    const options = { clientId: 'bench-client', audience: 'https://login.microsoftonline.com/bench-tenant/oauth2/v2.0/token' };
    const out = {};
    for (const sessions of [1, 4]) {
      const signer = await openPkcs11Signer(uri, { sessions });
      const raw = rawSigner(sessions);
      try {
        for (const alg of ['PS256', 'RS256']) {
          const prepared = prepareClientAssertion(signer, { ...options, algorithm: alg });
          // Raw signs an input of the same length as ours.
          const input = Buffer.from((await prepared.sign()).split('.').slice(0, 2).join('.'));
          const slices = { ours: concurrentSlice(() => prepared.sign(), sessions), reference: concurrentSlice(() => raw.sign(alg, input), sessions) };
          await interleave(slices, 200, 100); // warm-up
          const ours = [];
          const reference = [];
          for (let round = 0; round < rounds; round++) {
            const rates = await interleave(slices, sliceMs, 100);
            ours.push(rates.ours.wall);
            reference.push(rates.reference.wall);
          }
          out[`${alg}x${sessions}`] = { alg, sessions, ours: median(ours), reference: median(reference), ratio: median(ratios(ours, reference)), rounds: { ours, reference } };
        }
      } finally {
        raw.close();
        await signer.close();
      }
    }
    return { unit: 'assertions/s', target: 0.9, ...out };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
