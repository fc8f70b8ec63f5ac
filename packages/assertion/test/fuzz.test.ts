/**
 * Property and fuzz tests of every parser of @x/assertion (hardening issue,
 * part 1): random bytes and text, structured hostile PKCS#12 skeletons,
 * truncations, bit flips, insertions and deletions of every fixture of the
 * matrix (test/fixtures/make-fixtures.sh), and broken JWTs for
 * verifyClientAssertion.
 *
 * Every input must end, within 2 s and without blocking the event loop for
 * more than 100 ms, in either
 * - a `CredentialError` with a documented code, or
 * - a correct result: a credential whose assertion verifies with jose against
 *   its own public key; a certificate whose summary serialises; a
 *   verification report whose `valid` agrees with jose.
 *
 * Mutated inputs load with `maxIterations: 10_000` so each stays fast. Fixed
 * seeds keep CI reproducible; the number of inputs per parser is printed
 * (and merged into .ci/out/hardening-counts.json when that directory exists).
 *
 * The huge, deep and iteration-hungry inputs are in test/hardening/limits.test.ts.
 */
import { sign as cryptoSign, constants, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { compactVerify, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir, readManifest, type FixtureEntry } from '../../../test/setup/fixtures.js';
import {
  OIDS,
  Tally,
  classicMacData,
  dataContent,
  der,
  encryptedContent,
  expectBounded,
  expectTypedError,
  measureBounded,
  pbes2Algorithm,
  pfx,
  shroudedKeyBag,
  tlv,
  watchUnhandledRejections,
} from '../../../test/hardening/support.js';
import {
  CertificateCredential,
  CertificateInfo,
  createClientAssertion,
  loadCertificate,
  loadCredential,
  loadCredentialFile,
  verifyClientAssertion,
  type CredentialInput,
  type JwsAlgorithm,
  type VerificationProblem,
} from '../src/index.js';

const SEED = 0x5eed_2026;
const FUZZ_OPTIONS = { maxIterations: 10_000, ignoreValidityPeriod: false } as const;
const AUDIENCE = 'https://login.example/tenant/oauth2/v2.0/token';
const CLIENT = 'fuzz-client';

const tally = new Tally('@x/assertion fuzz');
const rejections = watchUnhandledRejections();
const manifest = readManifest().filter((e) => !e.skip);
const at = (file: string) => path.join(fixturesDir, file);
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'x-fuzz-'));
});

afterAll(async () => {
  await new Promise((r) => setTimeout(r, 50)); // let late rejections surface
  rejections.dispose();
  await rm(tmp, { recursive: true, force: true });
  await tally.report();
  expect(rejections.seen.map(String)).toEqual([]);
});

// ---------------------------------------------------------------------------
// Oracles

/** A loaded credential is correct when it signs an assertion that jose verifies against its own public key. */
async function expectUsable(credential: CertificateCredential, label: string): Promise<void> {
  expect(credential, label).toBeInstanceOf(CertificateCredential);
  expect(() => JSON.stringify(credential), `${label}: JSON.stringify`).not.toThrow();
  expect(() => inspect(credential), `${label}: inspect`).not.toThrow();
  const jwt = await createClientAssertion(credential, { clientId: CLIENT, audience: AUDIENCE });
  await expect(
    jwtVerify(jwt, credential.publicKey, { audience: AUDIENCE, issuer: CLIENT, subject: CLIENT }).then(() => 'verified'),
    `${label}: the credential loaded but its assertion does not verify against its own certificate`,
  ).resolves.toBe('verified');
}

/** A certificate is correct when its summary serialises and its dates are real. */
function expectCertificate(info: CertificateInfo, label: string): void {
  expect(info, label).toBeInstanceOf(CertificateInfo);
  expect(Number.isNaN(info.notBefore.getTime()) || Number.isNaN(info.notAfter.getTime()), `${label}: invalid validity dates`).toBe(false);
  expect(() => JSON.stringify(info), `${label}: JSON.stringify`).not.toThrow();
  expect(info.thumbprints['x5t#S256']).toMatch(/^[A-Za-z0-9_-]{43}$/);
}

type Outcome = 'ok' | `ERR_${string}`;

/** Run one credential load under the bounds; the outcome is a typed error code or a usable credential. */
async function loadOnce(parser: string, label: string, load: () => Promise<CertificateCredential>): Promise<Outcome> {
  tally.add(parser);
  const m = await measureBounded(load);
  tally.observe(parser, m);
  expectBounded(m, label);
  if (!m.ok) {
    expectTypedError(m.error, label);
    return m.error.code;
  }
  await expectUsable(m.value!, label);
  return 'ok';
}

function certificateOnce(label: string, input: string | Uint8Array): Promise<Outcome> {
  tally.add('loadCertificate');
  return measureBounded(() => loadCertificate(input)).then((m) => {
    tally.observe('loadCertificate', m);
    expectBounded(m, label);
    if (!m.ok) {
      expectTypedError(m.error, label);
      return m.error.code;
    }
    expectCertificate(m.value!, label);
    return 'ok';
  });
}

// ---------------------------------------------------------------------------
// Mutations

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; flips: { at: number; bit: number }[] }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'derFlip'; block: number; flips: { at: number; bit: number }[] };

const flips = fc.array(fc.record({ at: fc.nat(), bit: fc.nat({ max: 7 }) }), { minLength: 1, maxLength: 4 });

const byteMutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), flips }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0xff, 0x80, 0x7f, 0x30, 0x84, 0xa0) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }) },
);

/** For PEM: also flip bits in the DER inside a block (re-armoured), which keeps the text well-formed. */
const pemMutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: byteMutation },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('derFlip' as const), block: fc.nat(), flips }) },
);

function mutate(input: Uint8Array, m: Mutation): Uint8Array {
  const bytes = Buffer.from(input);
  const n = bytes.length;
  const pos = (i: number) => (n === 0 ? 0 : i % n);
  switch (m.kind) {
    case 'truncate':
      return bytes.subarray(0, pos(m.at));
    case 'flip':
      for (const f of m.flips) if (n) bytes[pos(f.at)]! ^= 1 << f.bit;
      return bytes;
    case 'set':
      if (n) bytes[pos(m.at)] = m.byte;
      return bytes;
    case 'insert':
      return Buffer.concat([bytes.subarray(0, pos(m.at)), m.bytes, bytes.subarray(pos(m.at))]);
    case 'delete':
      return Buffer.concat([bytes.subarray(0, pos(m.at)), bytes.subarray(pos(m.at) + m.count)]);
    case 'derFlip': {
      const text = bytes.toString('latin1');
      const blocks = [...text.matchAll(/(-----BEGIN [A-Z0-9 ]+-----\r?\n)((?:[A-Za-z0-9+/=]+\r?\n)+)(-----END [A-Z0-9 ]+-----)/g)];
      if (blocks.length === 0) return bytes;
      const b = blocks[m.block % blocks.length]!;
      const body = Buffer.from(b[2]!, 'base64');
      for (const f of m.flips) body[f.at % body.length]! ^= 1 << f.bit;
      const armoured = `${b[1]}${body.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n?$/, '\n')}${b[3]}`;
      return Buffer.from(text.slice(0, b.index) + armoured + text.slice(b.index! + b[0].length), 'latin1');
    }
  }
}

/** One target per distinct fixture file (+ key file, passphrase, options) of the matrix. */
interface Target {
  readonly entry: FixtureEntry;
  readonly bytes: Buffer;
  readonly keyBytes?: Buffer;
}

function targets(): Target[] {
  const seen = new Set<string>();
  const out: Target[] = [];
  for (const entry of manifest) {
    const id = `${entry.file}|${entry.keyFile ?? ''}|${entry.passphrase ?? '∅'}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ entry, bytes: readFileSync(at(entry.file)), ...(entry.keyFile && { keyBytes: readFileSync(at(entry.keyFile)) }) });
  }
  return out;
}

const isPem = (t: Target) => t.entry.kind === 'pem';
const RUNS_PER_FIXTURE = 24;

// ---------------------------------------------------------------------------

describe('loadCredential: mutations of every fixture', () => {
  const all = targets();

  it('covers every fixture file of the matrix', () => {
    const files = new Set(manifest.map((e) => e.file));
    expect(new Set(all.map((t) => t.entry.file))).toEqual(files);
  });

  it.for(all.filter((t) => !isPem(t)).map((t) => [t.entry.name, t] as const))('{ pfx } %s', async ([name, target]) => {
    const { passphrase } = target.entry;
    const outcomes = new Map<Outcome, number>();
    await fc.assert(
      fc.asyncProperty(byteMutation, async (mutation) => {
        const bytes = mutate(target.bytes, mutation);
        const outcome = await loadOnce('loadCredential({pfx}) mutated fixture', `${name} ${JSON.stringify(mutation)}`, () =>
          loadCredential({ pfx: bytes, passphrase }, FUZZ_OPTIONS),
        );
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }),
      { seed: SEED, numRuns: RUNS_PER_FIXTURE },
    );
    expect([...outcomes.values()].reduce((a, b) => a + b)).toBeGreaterThanOrEqual(RUNS_PER_FIXTURE);
  });

  it.for(all.filter(isPem).map((t) => [t.entry.name, t] as const))('{ pem } / { certificate, privateKey } %s', async ([name, target]) => {
    const { passphrase } = target.entry;
    await fc.assert(
      fc.asyncProperty(pemMutation, fc.boolean(), fc.boolean(), async (mutation, asBytes, mutateKeyFile) => {
        const label = `${name} ${JSON.stringify(mutation)}`;
        if (target.keyBytes) {
          const certificate = mutateKeyFile ? target.bytes : mutate(target.bytes, mutation);
          const privateKey = mutateKeyFile ? mutate(target.keyBytes, mutation) : target.keyBytes;
          const input = (b: Uint8Array) => (asBytes ? b : Buffer.from(b).toString('utf8'));
          await loadOnce('loadCredential({certificate,privateKey}) mutated fixture', label, () =>
            loadCredential({ certificate: input(certificate), privateKey: input(privateKey), passphrase }, FUZZ_OPTIONS),
          );
        } else {
          const bytes = mutate(target.bytes, mutation);
          await loadOnce('loadCredential({pem}) mutated fixture', label, () =>
            loadCredential({ pem: asBytes ? bytes : Buffer.from(bytes).toString('utf8'), passphrase }, FUZZ_OPTIONS),
          );
        }
        // The same bytes as a certificate: loadCertificate takes every fixture's certificates.
        await certificateOnce(label, mutate(target.bytes, mutation));
      }),
      { seed: SEED, numRuns: RUNS_PER_FIXTURE },
    );
  });

  it('loadCredentialFile: mutated fixtures written to disk', async () => {
    const all = targets();
    let i = 0;
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: all.length - 1 }), pemMutation, async (index, mutation) => {
        const target = all[index]!;
        const file = path.join(tmp, `mutated-${i++}`);
        await writeFile(file, mutate(target.bytes, mutation));
        const keyPath = target.keyBytes && path.join(tmp, `mutated-key-${i}`);
        if (keyPath) await writeFile(keyPath, target.keyBytes!);
        await loadOnce('loadCredentialFile mutated fixture', `${target.entry.name} ${JSON.stringify(mutation)}`, () =>
          loadCredentialFile(file, { passphrase: target.entry.passphrase, ...(keyPath && { keyPath }), ...FUZZ_OPTIONS }),
        );
      }),
      { seed: SEED, numRuns: 150 },
    );
  });
});

// ---------------------------------------------------------------------------

/** Random DER/BER trees: every tag class, indefinite lengths, constructed strings. */
const asn1Tree: fc.Arbitrary<Buffer> = fc.letrec<{ node: Buffer }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(fc.constantFrom(0x02, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x17, 0x1e, 0x80, 0x81, 0x03), fc.uint8Array({ maxLength: 24 })).map(([tag, body]) =>
      tlv(tag, Buffer.from(body)),
    ),
    fc.tuple(fc.constantFrom(0x30, 0x31, 0xa0, 0xa1, 0x24), fc.array(tie('node'), { maxLength: 4 }), fc.boolean()).map(([tag, children, indefinite]) =>
      indefinite ? Buffer.concat([Buffer.from([tag, 0x80]), ...children, Buffer.from([0, 0])]) : tlv(tag, ...children),
    ),
  ),
})).node;

/** Absurd and ordinary iteration counts. */
const iterations = fc.oneof(
  fc.constantFrom<number | bigint>(0, 1, 2048, 10_000, 10_001, 600_000, 2 ** 31 - 1, 2 ** 32, 2n ** 64n - 1n, 2n ** 127n),
  fc.nat(),
);

/** Well-formed PKCS#12 skeletons with random algorithms and parameters and junk ciphertexts. */
const pfxSkeleton: fc.Arbitrary<Buffer> = fc
  .record({
    contents: fc.array(
      fc.oneof(
        iterations.map((n) => encryptedContent(n)),
        fc.tuple(iterations, fc.uint8Array({ maxLength: 64 })).map(([n, c]) => encryptedContent(n, Buffer.from(c))),
        fc.array(
          fc.oneof(
            iterations.map((n) => shroudedKeyBag(n)),
            asn1Tree.map((v) => der.seq(der.oid(OIDS.keyBag), der.explicit(0, v))),
            asn1Tree.map((v) => der.seq(der.oid(OIDS.certBag), der.explicit(0, der.seq(der.oid(OIDS.x509Certificate), der.explicit(0, der.octets(v)))))),
            asn1Tree.map((v) => der.seq(der.oid(OIDS.safeContentsBag), der.explicit(0, der.seq(v)))),
          ),
          { maxLength: 4 },
        ).map((bags) => dataContent(...bags)),
        fc.tuple(fc.constantFrom(OIDS.pbeSha1With3Des, OIDS.pbeWithSha1AndDesCbc, '1.2.840.113549.1.12.1.1', '1.2.3.4'), iterations).map(([oid, n]) =>
          der.seq(
            der.oid(OIDS.encryptedData),
            der.explicit(0, der.seq(der.int(0), der.seq(der.oid(OIDS.data), der.seq(der.oid(oid), der.seq(der.octets('saltsalt'), der.int(n))), der.implicit(0, Buffer.alloc(32))))),
          ),
        ),
      ),
      { maxLength: 4 },
    ),
    mac: fc.option(
      fc.oneof(
        iterations.map((n) => classicMacData(n)),
        iterations.map((n) =>
          der.seq(
            der.seq(der.seq(der.oid(OIDS.pbmac1), der.seq(der.seq(der.oid(OIDS.pbkdf2), der.seq(der.octets('salt'), der.int(n), der.int(32))), der.seq(der.oid(OIDS.hmacSha256)))), der.octets(Buffer.alloc(32))),
            der.octets('x'),
            der.int(1),
          ),
        ),
      ),
      { nil: undefined },
    ),
  })
  .map(({ contents, mac }) => pfx(contents, mac));

/** PEM-looking text: armour lines, headers, base64 and real certificate bodies in random order. */
const realBlocks = [
  ...readFileSync(at('pem-chain.pem'), 'utf8').matchAll(/-----BEGIN [\s\S]*?-----END [A-Z ]+-----\n/g),
  ...readFileSync(at('pem-pkcs8-encrypted-aes256.pem'), 'utf8').matchAll(/-----BEGIN [\s\S]*?-----END [A-Z ]+-----\n/g),
].map((m) => m[0]);
const pemText: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '-----BEGIN CERTIFICATE-----\n',
        '-----END CERTIFICATE-----\n',
        '-----BEGIN PRIVATE KEY-----\n',
        '-----END PRIVATE KEY-----\n',
        '-----BEGIN ENCRYPTED PRIVATE KEY-----\n',
        '-----END ENCRYPTED PRIVATE KEY-----\n',
        '-----BEGIN RSA PRIVATE KEY-----\n',
        '-----END RSA PRIVATE KEY-----\n',
        '-----BEGIN EC PRIVATE KEY-----\n',
        'Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n',
        '-----BEGIN X509 CRL-----\n',
        '-----BEGIN ',
        '-----',
        '\r\n',
        '\n',
      ),
      fc.constantFrom(...realBlocks),
      fc.base64String({ maxLength: 128 }).map((s) => `${s}\n`),
      fc.uint8Array({ maxLength: 48 }).map((b) => `${Buffer.from(b).toString('base64')}\n`),
      fc.string({ maxLength: 16 }),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

describe('loadCredential and loadCertificate: random and structured inputs', () => {
  it('{ pfx }: random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (bytes) => {
        await loadOnce('loadCredential({pfx}) random bytes', `random ${bytes.length} bytes`, () => loadCredential({ pfx: bytes }, FUZZ_OPTIONS));
      }),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it('{ pfx }: random DER/BER trees', async () => {
    await fc.assert(
      fc.asyncProperty(asn1Tree, fc.option(fc.string({ maxLength: 12 }), { nil: undefined }), async (bytes, passphrase) => {
        await loadOnce('loadCredential({pfx}) random ASN.1', `tree ${bytes.toString('hex').slice(0, 80)}`, () =>
          loadCredential({ pfx: bytes, passphrase }, FUZZ_OPTIONS),
        );
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('{ pfx }: PKCS#12 skeletons with random algorithms and absurd iteration counts', async () => {
    await fc.assert(
      fc.asyncProperty(pfxSkeleton, fc.constantFrom(undefined, '', 'pass'), async (bytes, passphrase) => {
        const outcome = await loadOnce('loadCredential({pfx}) PKCS#12 skeleton', `skeleton ${bytes.length} bytes`, () =>
          loadCredential({ pfx: bytes, passphrase }, FUZZ_OPTIONS),
        );
        expect(outcome).not.toBe('ok'); // junk ciphertexts never open
      }),
      { seed: SEED, numRuns: 800 },
    );
  });

  it('{ pem }, { certificate, privateKey }, loadCertificate: random PEM-looking text', async () => {
    await fc.assert(
      fc.asyncProperty(pemText, pemText, fc.option(fc.string({ maxLength: 12 }), { nil: undefined }), async (text, keyText, passphrase) => {
        const label = `pem ${JSON.stringify(text.slice(0, 80))}`;
        await loadOnce('loadCredential({pem}) random text', label, () => loadCredential({ pem: text, passphrase }, FUZZ_OPTIONS));
        await loadOnce('loadCredential({certificate,privateKey}) random text', label, () =>
          loadCredential({ certificate: text, privateKey: keyText, passphrase }, FUZZ_OPTIONS),
        );
        await certificateOnce(label, text);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('{ certificate, privateKey }, loadCertificate: random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 1024 }), fc.uint8Array({ maxLength: 1024 }), async (cert, key) => {
        await loadOnce('loadCredential({certificate,privateKey}) random bytes', 'random bytes', () =>
          loadCredential({ certificate: cert, privateKey: key }, FUZZ_OPTIONS),
        );
        await certificateOnce('random bytes', cert);
      }),
      { seed: SEED, numRuns: 800 },
    );
  });

  it('loadCredential: inputs and options of the wrong shape (untyped callers)', async () => {
    const values: unknown[] = [undefined, null, 0, 1n, '', 'x', true, [], {}, new Uint8Array(2), () => 1, Symbol('s'), new Date(0), { toString: 1 }];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom(...values),
          fc.record({ pfx: fc.constantFrom(...values), passphrase: fc.constantFrom(...values) }, { requiredKeys: ['pfx'] }),
          fc.record({ pem: fc.constantFrom(...values), passphrase: fc.constantFrom(...values) }, { requiredKeys: ['pem'] }),
          fc.record({ certificate: fc.constantFrom(...values), privateKey: fc.constantFrom(...values), passphrase: fc.constantFrom(...values) }),
          fc.anything(),
        ),
        fc.oneof(fc.constantFrom(...values), fc.anything()),
        async (input, options) => {
          await loadOnce('loadCredential wrong-shape input/options', `input ${inspect(input).slice(0, 80)}`, () =>
            loadCredential(input as CredentialInput, options as never),
          );
          await loadOnce('loadCredentialFile wrong-shape path/options', `path ${inspect(input).slice(0, 80)}`, () =>
            loadCredentialFile(input as string, options as never),
          );
          await certificateOnce(`loadCertificate ${inspect(input).slice(0, 80)}`, input as string);
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
  });
});

// ---------------------------------------------------------------------------
// verifyClientAssertion

interface Signer {
  readonly name: string;
  readonly credential: CertificateCredential;
  readonly algorithm: JwsAlgorithm;
  readonly jwt: string;
}

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Sign arbitrary header and payload segments with the credential's key (the JWS algorithm of the credential). */
function signRaw(key: KeyObject, algorithm: JwsAlgorithm, signingInput: string): string {
  const data = Buffer.from(signingInput);
  if (algorithm === 'EdDSA') return cryptoSign(null, data, key).toString('base64url');
  if (algorithm.startsWith('ES')) return cryptoSign(`sha${algorithm.slice(2)}`, data, { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return cryptoSign(`sha${algorithm.slice(2)}`, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }).toString('base64url');
}

const hostile = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    null,
    1e300,
    -1e300,
    8.64e12,
    -8.64e12,
    2 ** 53,
    -0,
    0.5,
    '',
    '\u0000',
    [],
    {},
    { toString: 1 },
    { valueOf: 1, toString: 1 },
    { toJSON: 1 },
    ['a', { toString: 1 }],
    { __proto__: { x: 1 } },
  ),
);

describe('verifyClientAssertion: broken JWTs', () => {
  const signers: Signer[] = [];

  beforeAll(async () => {
    for (const [name, file] of [
      ['RSA', 'pem-pkcs8-rsa.pem'],
      ['EC P-256', 'pem-sec1-ec.pem'],
      ['Ed25519', 'pem-ed25519.pem'],
    ] as const) {
      const credential = await loadCredentialFile(at(file));
      const jwt = await createClientAssertion(credential, { clientId: CLIENT, audience: AUDIENCE, includeX5c: true, kid: credential.kid });
      signers.push({ name, credential, algorithm: credential.defaultAlgorithm, jwt });
    }
  });

  const PROBLEMS = new Set<VerificationProblem['code']>([
    'MALFORMED', 'BAD_SIGNATURE', 'ALGORITHM_MISMATCH', 'THUMBPRINT_MISSING', 'THUMBPRINT_MISMATCH', 'X5C_MISMATCH', 'AUDIENCE_MISSING',
    'AUDIENCE_MISMATCH', 'ISSUER_MISSING', 'ISSUER_SUBJECT_MISMATCH', 'CLIENT_ID_MISMATCH', 'EXPIRY_MISSING', 'EXPIRED', 'NOT_YET_VALID',
    'ISSUED_IN_FUTURE', 'LIFETIME_TOO_LONG', 'JTI_MISSING',
  ]);

  /** The report is well-formed, and `valid` is only ever given to what jose verifies. */
  async function verifyOnce(parser: string, signer: Signer, jwt: string, label: string): Promise<boolean> {
    tally.add(parser);
    const m = await measureBounded(() => verifyClientAssertion(jwt, signer.credential, { clientId: CLIENT, audience: AUDIENCE }));
    tally.observe(parser, m);
    expectBounded(m, label);
    expect(m.ok, `${label}: verifyClientAssertion threw ${String(m.error)}`).toBe(true);
    const report = m.value!;
    expect(report.valid).toBe(report.problems.length === 0);
    for (const p of report.problems) {
      expect(PROBLEMS.has(p.code), `${label}: undocumented problem ${p.code}`).toBe(true);
      expect(typeof p.message).toBe('string');
    }
    expect(() => JSON.stringify(report), `${label}: JSON.stringify(report)`).not.toThrow();
    if (report.valid) {
      await expect(compactVerify(jwt, signer.credential.publicKey).then(() => true), `${label}: valid but jose rejects the signature`).resolves.toBe(true);
    }
    return report.valid;
  }

  it('random strings', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }), fc.base64String({ maxLength: 300 })), async (jwt) => {
        await verifyOnce('verifyClientAssertion random string', signers[0]!, jwt, `jwt ${JSON.stringify(jwt.slice(0, 60))}`);
      }),
      { seed: SEED, numRuns: 600 },
    );
  });

  it('broken segments: replaced, dropped, added, flipped', async () => {
    const segment = (original: string) =>
      fc.oneof(
        { weight: 3, arbitrary: fc.constant(original) },
        { weight: 1, arbitrary: fc.constant('') },
        { weight: 1, arbitrary: fc.base64String({ maxLength: 80 }) },
        { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
        { weight: 2, arbitrary: hostile.map(b64) },
        { weight: 1, arbitrary: fc.tuple(fc.nat(), fc.nat({ max: 63 })).map(([i, c]) => flipChar(original, i, c)) },
        { weight: 1, arbitrary: fc.nat().map((i) => original.slice(0, i % (original.length + 1))) },
        { weight: 1, arbitrary: fc.constant(`${original}==`) },
      );
    const broken = fc.nat({ max: signers.length - 1 }).chain((which) => {
      const [h, p, s] = signers[which]!.jwt.split('.') as [string, string, string];
      return fc.tuple(fc.constant(which), segment(h), segment(p), segment(s), fc.nat({ max: 4 }));
    });
    await fc.assert(
      fc.asyncProperty(broken, async ([which, hh, pp, ss, shape]) => {
        const signer = signers[which]!;
        const parts = [[hh, pp, ss], [hh, pp], [hh, pp, ss, ss], [hh], [hh, pp, ss, '']][shape]!;
        const jwt = parts.join('.');
        const valid = await verifyOnce('verifyClientAssertion broken segments', signer, jwt, `${signer.name} ${JSON.stringify(jwt.slice(0, 120))}`);
        // Only a re-encoding of the same signature bytes (base64url padding, unused low bits) may still verify.
        const [h, p, s] = signer.jwt.split('.') as [string, string, string];
        const same = parts.length === 3 && hh === h && pp === p && Buffer.from(ss, 'base64url').equals(Buffer.from(s, 'base64url'));
        if (!same) expect(valid, 'a changed assertion must not verify').toBe(false);
      }),
      { seed: SEED, numRuns: 900 },
    );
  });

  it('hostile headers and claims, correctly signed', async () => {
    const header = (signer: Signer) =>
      fc.record(
        {
          alg: fc.oneof(fc.constant(signer.algorithm), fc.constantFrom('none', 'HS256', 'RS256', 'ES256', 'EdDSA'), hostile),
          typ: fc.oneof(fc.constant('JWT'), hostile),
          x5t: fc.oneof(fc.constant(signer.credential.thumbprints.x5t), hostile),
          'x5t#S256': fc.oneof(fc.constant(signer.credential.thumbprints['x5t#S256']), hostile),
          x5c: fc.oneof(fc.constant(signer.credential.chain.map((d) => Buffer.from(d).toString('base64'))), hostile),
          kid: hostile,
          crit: hostile,
          b64: hostile,
        },
        { requiredKeys: [] },
      );
    const now = Math.floor(Date.now() / 1000);
    const claims = fc.record(
      {
        aud: fc.oneof(fc.constant(AUDIENCE), fc.constant([AUDIENCE, 'x']), hostile),
        iss: fc.oneof(fc.constant(CLIENT), hostile),
        sub: fc.oneof(fc.constant(CLIENT), hostile),
        exp: fc.oneof(fc.constant(now + 300), fc.integer(), hostile),
        nbf: fc.oneof(fc.constant(now - 30), fc.integer(), hostile),
        iat: fc.oneof(fc.constant(now - 30), fc.integer(), hostile),
        jti: fc.oneof(fc.uuid(), hostile),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 2 }).chain((i) => fc.tuple(fc.constant(i), header(signers[i]!), claims, fc.boolean())),
        async ([which, h, c, payloadAsJunk]) => {
          const signer = signers[which]!;
          const input = `${b64(h)}.${payloadAsJunk ? b64(JSON.stringify(c).slice(1)) : b64(c)}`;
          const jwt = `${input}.${signRaw(signer.credential.privateKey, signer.algorithm, input)}`;
          await verifyOnce('verifyClientAssertion hostile header/claims', signer, jwt, `${signer.name} ${JSON.stringify({ h, c }).slice(0, 300)}`);
        },
      ),
      { seed: SEED, numRuns: 900 },
    );
  });

  it('an unreadable certificate argument is a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 256 }), pemText, fc.constantFrom<unknown>(null, undefined, 5, {}, [])), async (certificate) => {
        tally.add('verifyClientAssertion bad certificate');
        const m = await measureBounded(() => verifyClientAssertion(signers[0]!.jwt, certificate as string));
        expectBounded(m, 'bad certificate');
        if (!m.ok) expectTypedError(m.error, `certificate ${inspect(certificate).slice(0, 60)}`);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

function flipChar(s: string, index: number, to: number): string {
  if (s.length === 0) return s;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const i = index % s.length;
  return s.slice(0, i) + alphabet[to] + s.slice(i + 1);
}
