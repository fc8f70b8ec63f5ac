/**
 * openPkcs11Signer against a real SoftHSM 2 token: certificates and
 * thumbprints, assertions verified by jose, each error code, 200 concurrent
 * signatures, session recovery, a clean exit, and keys that stay
 * non-extractable.
 */
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inspect, promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createClientAssertion, type JwsAlgorithm } from '@x/assertion';
import { decodeProtectedHeader, importX509, jwtVerify } from 'jose';
import pkcs11js from 'pkcs11js';
import { openPkcs11Signer, Pkcs11CredentialError, type Pkcs11Signer } from '../src/index.js';
import { makeToken, MODULE_PATH, PIN, softhsmMissing, TOKEN_LABEL, type TestKey, type TestToken } from './softhsm.js';

const run = promisify(execFile);
const AUDIENCE = 'https://127.0.0.1/tenant/oauth2/v2.0/token';

/** CKA_EXTRACTABLE / CKA_SENSITIVE of every private key, read by a library instance of its own (no signer open). */
function privateKeyFlags(): { label: string; extractable: boolean; sensitive: boolean }[] {
  const library = new pkcs11js.PKCS11();
  library.load(MODULE_PATH);
  library.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK }); // throws CKR_CRYPTOKI_ALREADY_INITIALIZED if a signer is left open
  try {
    const slot = library.C_GetSlotList(true).find((s) => library.C_GetTokenInfo(s).label.trim() === TOKEN_LABEL)!;
    const session = library.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    library.C_Login(session, pkcs11js.CKU_USER, PIN);
    library.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }]);
    const keys = library.C_FindObjects(session, 16);
    library.C_FindObjectsFinal(session);
    return keys.map((key) => {
      const [label, extractable, sensitive] = library.C_GetAttributeValue(session, key, [
        { type: pkcs11js.CKA_LABEL }, { type: pkcs11js.CKA_EXTRACTABLE }, { type: pkcs11js.CKA_SENSITIVE },
      ]);
      return { label: label!.value.toString(), extractable: extractable!.value[0] !== 0, sensitive: sensitive!.value[0] !== 0 };
    });
  } finally {
    library.C_Finalize();
    library.close();
  }
}

/** The token's serial number, as `softhsm2-util --show-slots` prints it. */
function tokenSerial(): string {
  const shown = execFileSync('softhsm2-util', ['--show-slots'], { encoding: 'utf8' });
  const serials = [...shown.matchAll(/^\s*Serial number:[ \t]*(\S+)[ \t]*$/gm)].map((m) => m[1]!);
  expect(serials).toHaveLength(1);
  return serials[0]!;
}

async function expectCode(promise: Promise<unknown>, code: string, ckr?: string): Promise<Pkcs11CredentialError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(Pkcs11CredentialError);
  expect(error).toMatchObject({ code, ...(ckr === undefined ? {} : { ckr }) });
  const shown = `${inspect(error, { showHidden: true, depth: 9 })}${JSON.stringify(error)}${String(error)}`;
  expect(shown).not.toContain(PIN);
  return error as Pkcs11CredentialError;
}

describe.skipIf(softhsmMissing !== undefined)(`SoftHSM 2${softhsmMissing ? ` (skipped: ${softhsmMissing})` : ''}`, () => {
  let token: TestToken;
  const open: Pkcs11Signer[] = [];
  const signer = async (key: TestKey, options?: Parameters<typeof openPkcs11Signer>[1]) => {
    const s = await openPkcs11Signer(token.uri(key), options);
    open.push(s);
    return s;
  };

  beforeAll(async () => {
    token = await makeToken();
    expect(privateKeyFlags().map(({ extractable, sensitive }) => ({ extractable, sensitive }))).toEqual(
      Array(3).fill({ extractable: false, sensitive: true }),
    );
  }, 120_000);

  afterAll(async () => {
    await Promise.all(open.map((s) => s.close()));
    if (token !== undefined) {
      // Still in the token, still non-extractable, after everything below.
      expect(privateKeyFlags().every((k) => !k.extractable && k.sensitive)).toBe(true);
      await token.remove();
    }
  });

  test.each([
    ['rsa', ['PS256', 'RS256', 'PS384', 'RS512']],
    ['ec256', ['ES256']],
    ['ec384', ['ES384']],
  ] as const)('%s: certificate from the token, thumbprints = openssl, assertions verify with jose', async (name, algorithms) => {
    const key = token[name];
    const s = await signer(key);
    expect(s.certificate.thumbprints.sha256Hex).toBe(key.opensslSha256);
    expect(s.certificate.thumbprints.sha1Hex).toBe(key.opensslSha1);
    expect(s.certificate.thumbprints['x5t#S256']).toBe(Buffer.from(key.opensslSha256, 'hex').toString('base64url'));
    for (const algorithm of algorithms as readonly JwsAlgorithm[]) {
      const assertion = await createClientAssertion(s, { clientId: 'daemon', audience: AUDIENCE, algorithm });
      const { payload, protectedHeader } = await jwtVerify(assertion, await importX509(key.certPem, algorithm), { audience: AUDIENCE, issuer: 'daemon' });
      expect(protectedHeader).toMatchObject({ alg: algorithm, 'x5t#S256': s.certificate.thumbprints['x5t#S256'] });
      expect(payload.sub).toBe('daemon');
    }
    // The default algorithm of the key (PS256 for RSA, ES256/ES384 by curve).
    expect(decodeProtectedHeader(await createClientAssertion(s, { clientId: 'daemon', audience: AUDIENCE })).alg).toBe(s.certificate.defaultAlgorithm);
  });

  test('by CKA_ID (percent-encoded) and token serial, PIN from options', async () => {
    const s = await openPkcs11Signer(`pkcs11:serial=${tokenSerial()};id=%02?module-path=${MODULE_PATH}`, { pin: PIN });
    open.push(s);
    expect(s.certificate.thumbprints.sha256Hex).toBe(token.ec256.opensslSha256);
  });

  test('an algorithm the key cannot make: ERR_INVALID_OPTIONS', async () => {
    const s = await signer(token.ec256);
    await expect(s.sign(new Uint8Array(8), 'RS256')).rejects.toMatchObject({ code: 'ERR_INVALID_OPTIONS' });
    await expect(s.sign(new Uint8Array(8), 'ES384')).rejects.toMatchObject({ code: 'ERR_INVALID_OPTIONS' });
  });

  test('a certificate file instead of the token\'s: used when it matches, ERR_KEY_MISMATCH when not', async () => {
    const s = await signer(token.rsa, { certificatePath: token.rsa.certPath });
    expect(s.certificate.thumbprints.sha256Hex).toBe(token.rsa.opensslSha256);
    await expectCode(openPkcs11Signer(token.uri(token.rsa), { certificatePath: token.strangerCertPath }), 'ERR_KEY_MISMATCH');
    await expectCode(openPkcs11Signer(token.uri(token.rsa), { certificatePath: token.ec256.certPath }), 'ERR_KEY_MISMATCH');
    await expectCode(openPkcs11Signer(token.uri(token.ec256), { certificatePath: token.ec384.certPath }), 'ERR_KEY_MISMATCH');
  });

  test('each failure a user can act on has its code (and CKR_* name), never the PIN', async () => {
    const rsa = token.uri(token.rsa);
    // No session open, so not logged in: the token itself refuses the PIN.
    await Promise.all(open.splice(0).map((s) => s.close()));
    await expectCode(openPkcs11Signer(token.uri(token.rsa, { pinValue: `${PIN}x` })), 'ERR_PKCS11_PIN_INCORRECT', 'CKR_PIN_INCORRECT');
    // Logged in by another signer (C_Login would answer CKR_USER_ALREADY_LOGGED_IN to any PIN): still refused.
    await signer(token.ec256);
    await expectCode(openPkcs11Signer(token.uri(token.rsa, { pinValue: `${PIN}x` })), 'ERR_PKCS11_PIN_INCORRECT');
    await expectCode(openPkcs11Signer(rsa.replace('object=rsa-key', 'object=no-such-key')), 'ERR_PKCS11_KEY_NOT_FOUND');
    await expectCode(openPkcs11Signer(rsa.replace(/;object=[^;?]*/, '')), 'ERR_PKCS11_KEY_NOT_FOUND'); // three keys match
    await expectCode(openPkcs11Signer(rsa.replace('token=daemon', 'token=other')), 'ERR_PKCS11_TOKEN_NOT_FOUND');
    await expectCode(openPkcs11Signer(token.uri(token.rsa, { modulePath: '/usr/lib/softhsm/libsofthsm9.so' })), 'ERR_PKCS11_MODULE');
    await expectCode(openPkcs11Signer(token.uri(token.rsa, { modulePath: fileURLToPath(import.meta.url) })), 'ERR_PKCS11_MODULE');
    const typo = await expectCode(openPkcs11Signer(rsa.replace('object=', 'objet=')), 'ERR_PKCS11_URI');
    expect(typo.attribute).toBe('objet');
    await expectCode(openPkcs11Signer(rsa.replace('type=private', 'type=cert')), 'ERR_PKCS11_URI');
    await expectCode(openPkcs11Signer(rsa.replace(/&pin-source=[^&]*/, '')), 'ERR_PKCS11_PIN_INCORRECT');
    // The right PIN still works afterwards (a few wrong ones do not lock SoftHSM's user PIN).
    await signer(token.rsa);
  });

  test('200 concurrent assertions, 4 sessions: all verify, all jti distinct', async () => {
    const s = await signer(token.rsa, { sessions: 4 });
    const key = await importX509(token.rsa.certPem, 'PS256');
    const assertions = await Promise.all(Array.from({ length: 200 }, () => createClientAssertion(s, { clientId: 'daemon', audience: AUDIENCE })));
    const results = await Promise.allSettled(assertions.map((a) => jwtVerify(a, key)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(200);
    expect(new Set(assertions.map((a) => a.split('.')[1])).size).toBe(200);
  });

  test('sessions closed under it (as on token removal): the next signatures re-open and verify', async () => {
    const s = await signer(token.ec256, { sessions: 2 });
    const key = await importX509(token.ec256.certPem, 'ES256');
    await createClientAssertion(s, { clientId: 'daemon', audience: AUDIENCE });
    // Another instance of the same module (one initialised library per process): close every session of the token.
    const other = new pkcs11js.PKCS11();
    other.load(MODULE_PATH);
    expect(() => other.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK })).toThrow(/CKR_CRYPTOKI_ALREADY_INITIALIZED/);
    const slot = other.C_GetSlotList(true).find((x) => other.C_GetTokenInfo(x).label.trim() === TOKEN_LABEL)!;
    other.C_CloseAllSessions(slot);
    other.close();
    const assertions = await Promise.all(Array.from({ length: 8 }, () => createClientAssertion(s, { clientId: 'daemon', audience: AUDIENCE })));
    for (const a of assertions) await jwtVerify(a, key);
  });

  test('closed: sign rejects, close is idempotent; inspect and JSON show no PIN', async () => {
    const s = await openPkcs11Signer(token.uri(token.rsa, { pinValue: PIN }));
    const shown = `${inspect(s, { showHidden: true, depth: 9 })}${JSON.stringify(s)}${String(s.uri)}`;
    expect(shown).not.toContain(PIN);
    expect(JSON.stringify(s)).toContain('token=daemon');
    await s.close();
    await s.close();
    await expectCode(s.sign(new Uint8Array(8), 'PS256'), 'ERR_SIGNER_FAILED');
  });

  test.each(['close', 'no-close'])('a process signing 200 at once exits by itself (%s)', async (mode) => {
    const script = fileURLToPath(new URL('./fixtures/sign-many.mjs', import.meta.url));
    const { stdout } = await run(process.execPath, [script, token.uri(token.rsa), '200', mode], {
      env: { ...process.env, SOFTHSM2_CONF: token.conf },
      timeout: 60_000,
    });
    expect(JSON.parse(stdout)).toEqual({ verified: 200, jtis: 200 });
  }, 90_000);
});
