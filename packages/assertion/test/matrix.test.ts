import { readFileSync } from 'node:fs';
import path from 'node:path';
import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { fixturesDir, readManifest, type FixtureEntry } from '../../../test/setup/fixtures.js';
import { CredentialError, createClientAssertion, loadCredential, loadCredentialFile, type CertificateCredential } from '../src/index.js';

/**
 * The public API over the whole fixture matrix (test/fixtures/make-fixtures.sh):
 * every fixture loads, or fails with its error code, exactly as the manifest
 * says; thumbprints are checked against openssl's fingerprints.
 */

const manifest = readManifest();
const at = (file: string) => path.join(fixturesDir, file);
const audience = 'https://login.example/token';

function fixture(name: string): FixtureEntry {
  const entry = manifest.find((e) => e.name === name);
  if (!entry) throw new Error(`no fixture ${name}`);
  return entry;
}

/** What an `ok` fixture promises: openssl's thumbprints, the key type, and a JWT that verifies. */
async function expectCredential(credential: CertificateCredential, entry: FixtureEntry): Promise<void> {
  expect(credential.thumbprints.sha1Hex).toBe(entry.sha1Hex);
  expect(credential.thumbprints.sha256Hex).toBe(entry.sha256Hex);
  expect(credential.keyType).toBe(entry.keyType);
  const jwt = await createClientAssertion(credential, { clientId: 'c', audience });
  const { protectedHeader, payload } = await jwtVerify(jwt, credential.publicKey, { audience, issuer: 'c', subject: 'c' });
  expect(protectedHeader['x5t#S256']).toBe(Buffer.from(entry.sha256Hex!, 'hex').toString('base64url'));
  expect(protectedHeader.x5t).toBe(Buffer.from(entry.sha1Hex!, 'hex').toString('base64url')); // default thumbprint: 'both'
  expect(payload.jti).toEqual(expect.any(String));
}

/** What a failing fixture promises: its code, and no passphrase in the message or cause. */
async function expectFailure(promise: Promise<unknown>, code: string, passphrase?: string): Promise<CredentialError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${code}`).toBeInstanceOf(CredentialError);
  const credentialError = error as CredentialError;
  expect(credentialError.code, credentialError.message).toBe(code);
  if (passphrase) {
    expect(credentialError.message).not.toContain(passphrase);
    expect(String((credentialError.cause as Error | undefined)?.message ?? '')).not.toContain(passphrase);
  }
  return credentialError;
}

function loadEntry(entry: FixtureEntry): Promise<CertificateCredential> {
  return loadCredentialFile(at(entry.file), {
    passphrase: entry.passphrase,
    ...(entry.keyFile && { keyPath: at(entry.keyFile) }),
    ...entry.loadOptions,
  });
}

describe('loadCredentialFile over the fixture matrix', () => {
  it.for(manifest.map((e) => [`${e.name} → ${e.expect}`, e] as const))('%s', async ([, entry], { skip }) => {
    if (entry.skip) skip(entry.skip);
    if (entry.expect === 'ok') await expectCredential(await loadEntry(entry), entry);
    else await expectFailure(loadEntry(entry), entry.expect, entry.passphrase);
  });
});

describe('loadCredential from bytes and text', () => {
  const bytes = (name: string) => readFileSync(at(fixture(name).file));
  const text = (file: string) => readFileSync(at(file), 'utf8');

  it.for(['pfx-chain', 'pfx-legacy', 'pfx-pbmac1-sha256', 'pfx-ber-indefinite', 'pfx-empty-passphrase', 'pfx-unicode-passphrase'])(
    '{ pfx } %s',
    async (name) => {
      const entry = fixture(name);
      await expectCredential(await loadCredential({ pfx: bytes(name), passphrase: entry.passphrase }), entry);
    },
  );

  it('{ pfx } keeps the chain after the leaf', async () => {
    const credential = await loadCredential({ pfx: bytes('pfx-chain'), passphrase: fixture('pfx-chain').passphrase });
    expect(credential.chain).toHaveLength(3);
  });

  it('{ pfx } with base64 text says to decode it', async () => {
    const error = await expectFailure(loadCredential({ pfx: bytes('pfx-base64-text') }), 'ERR_MALFORMED');
    expect(error.message).toContain('this looks like base64 text; decode it to DER first');
  });

  it('{ pfx } with a wrong passphrase', async () => {
    await expectFailure(loadCredential({ pfx: bytes('pfx-chain'), passphrase: 'nope-nope' }), 'ERR_BAD_PASSPHRASE', 'nope-nope');
  });

  it.for(['pem-chain', 'pem-pkcs8-encrypted-aes256', 'pem-traditional-aes256', 'pem-sec1-ec-params', 'pem-crlf'])('{ pem } %s', async (name) => {
    const entry = fixture(name);
    await expectCredential(await loadCredential({ pem: text(entry.file), passphrase: entry.passphrase }), entry);
    await expectCredential(await loadCredential({ pem: bytes(name), passphrase: entry.passphrase }), entry);
  });

  it.for(['pem-separate-files', 'pem-separate-files-encrypted'])('{ certificate, privateKey } %s', async (name) => {
    const entry = fixture(name);
    const input = { certificate: text(entry.file), privateKey: text(entry.keyFile!), passphrase: entry.passphrase };
    await expectCredential(await loadCredential(input), entry);
  });

  it('{ certificate, privateKey } with a key that does not match', async () => {
    const input = { certificate: text('pem-separate-cert.pem'), privateKey: text('pem-key-mismatch.pem') };
    await expectFailure(loadCredential(input), 'ERR_KEY_MISMATCH');
  });
});
