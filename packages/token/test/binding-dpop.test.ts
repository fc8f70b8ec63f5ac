/**
 * DPoP proofs (RFC 9449) made by @x/token's building block, checked by the devserver's resource-side verifier
 * (RFC 9449 §4.3) and cross-checked with an RFC 7638 thumbprint computed here from the canonical JSON.
 */
import { createHash } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { expect, test } from 'vitest';
import { verifyDpopProof, type BindingError } from '@x/devserver';
import { generateDpopKey, type DpopAlgorithm } from '../src/binding/dpop.js';

const HTU = 'https://127.0.0.1:8443/api/items';

function rememberer(): (jti: string) => boolean {
  const seen = new Set<string>();
  return (jti) => (seen.has(jti) ? false : (seen.add(jti), true));
}

function rfc7638(jwk: Record<string, unknown>): string {
  const members = jwk.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : jwk.kty === 'OKP' ? ['crv', 'kty', 'x'] : ['e', 'kty', 'n'];
  const canonical = `{${members.map((m) => `"${m}":"${String(jwk[m])}"`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  return promise.then(() => undefined, (e: BindingError) => e.code);
}

test.each<DpopAlgorithm>(['ES256', 'EdDSA', 'PS256'])('%s proof verifies; jkt matches RFC 7638', async (alg) => {
  const key = await generateDpopKey(alg);
  const proof = await key.createDpopProof({ htm: 'get', htu: `${HTU}?q=1#f`, accessToken: 'token-a' });
  const header = decodeProtectedHeader(proof);
  expect(header).toMatchObject({ typ: 'dpop+jwt', alg });
  expect(header.jwk).not.toHaveProperty('d');
  expect(key.jkt).toBe(rfc7638(header.jwk as Record<string, unknown>));
  const jkt = await verifyDpopProof({ proof, htm: 'GET', htu: HTU, accessToken: 'token-a', jkt: key.jkt, rememberJti: rememberer() });
  expect(jkt).toBe(key.jkt);
});

test('refuses replay, stale iat, wrong ath, wrong htu/htm, missing nonce, other key', async () => {
  const key = await generateDpopKey();
  const other = await generateDpopKey();
  const remember = rememberer();
  const proof = await key.createDpopProof({ htm: 'POST', htu: HTU, accessToken: 'token-a' });
  const base = { proof, htm: 'POST', htu: HTU, accessToken: 'token-a', jkt: key.jkt };
  expect(await codeOf(verifyDpopProof({ ...base, rememberJti: remember }))).toBeUndefined();
  expect(await codeOf(verifyDpopProof({ ...base, rememberJti: remember }))).toBe('ERR_DPOP_REPLAY');
  const fresh = () => rememberer();
  expect(await codeOf(verifyDpopProof({ ...base, rememberJti: fresh(), nowSeconds: Date.now() / 1000 + 3600 }))).toBe('ERR_DPOP_STALE');
  expect(await codeOf(verifyDpopProof({ ...base, accessToken: 'token-b', rememberJti: fresh() }))).toBe('ERR_DPOP_INVALID');
  expect(await codeOf(verifyDpopProof({ ...base, htu: 'https://127.0.0.1:8443/other', rememberJti: fresh() }))).toBe('ERR_DPOP_INVALID');
  expect(await codeOf(verifyDpopProof({ ...base, htm: 'GET', rememberJti: fresh() }))).toBe('ERR_DPOP_INVALID');
  expect(await codeOf(verifyDpopProof({ ...base, nonce: 'n-1', rememberJti: fresh() }))).toBe('ERR_DPOP_NONCE');
  expect(await codeOf(verifyDpopProof({ ...base, jkt: other.jkt, rememberJti: fresh() }))).toBe('ERR_DPOP_INVALID');
  const withNonce = await key.createDpopProof({ htm: 'POST', htu: HTU, nonce: 'n-1' });
  expect(await codeOf(verifyDpopProof({ proof: withNonce, htm: 'POST', htu: HTU, nonce: 'n-1', rememberJti: fresh() }))).toBeUndefined();
});
