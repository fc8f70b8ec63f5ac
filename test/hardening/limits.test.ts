/**
 * Hostile inputs that random fuzzing does not reach (hardening issue, part 1):
 * huge inputs (50 MB of bytes and of PEM-looking text, 10,000 PEM blocks),
 * deep and indefinite ASN.1 nesting, absurd key-derivation iteration counts
 * (refused with ERR_ITERATION_LIMIT before any derivation), and files that
 * multiply derivations or bags. Every input ends in a `CredentialError` with
 * a documented code (or a usable credential) within 2 s, without blocking
 * the event loop for more than 100 ms.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { pbkdf2, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import forge from 'node-forge';
import { jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateCredential,
  createClientAssertion,
  DEFAULT_MAX_ITERATIONS,
  loadCertificate,
  loadCredential,
  loadCredentialFile,
  verifyClientAssertion,
  type CredentialInput,
  type LoadOptions,
} from '@x/assertion';
import { fixturesDir } from '../setup/fixtures.js';
import {
  OIDS,
  Tally,
  classicMacData,
  dataContent,
  dataContentOf,
  der,
  derLength,
  encryptedContent,
  expectBounded,
  expectTypedError,
  measureBounded,
  pbkdf2Params,
  pem,
  pfx,
  shroudedKeyBag,
  tlv,
  tlvOf,
  watchUnhandledRejections,
} from './support.js';

const tally = new Tally('@x/assertion limits');
const rejections = watchUnhandledRejections();
const fixture = (file: string) => readFileSync(path.join(fixturesDir, file));
const PASSPHRASE = 'fixture-Passw0rd';
const MB50 = 50 * 1024 * 1024;
/** The input size cap of @x/assertion (MAX_INPUT_BYTES, internal). */
const CAP = 256 * 1024;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'x-limits-'));
});

afterAll(async () => {
  await new Promise((r) => setTimeout(r, 50));
  rejections.dispose();
  await rm(tmp, { recursive: true, force: true });
  await tally.report();
  expect(rejections.seen.map(String)).toEqual([]);
});

/** Run one load; it must end in `code` (or, for `'ok'`, a usable credential) within the bounds. */
async function expectOutcome(
  parser: string,
  label: string,
  load: () => unknown,
  code: string | readonly string[],
  bounds?: { maxMs?: number; maxBlockMs?: number },
): Promise<void> {
  tally.add(parser);
  const m = await measureBounded(load, bounds);
  tally.observe(parser, m);
  expectBounded(m, label, bounds);
  const codes = typeof code === 'string' ? [code] : code;
  if (m.ok) {
    expect(codes, `${label}: loaded, expected ${codes.join(' or ')}`).toContain('ok');
    if (m.value instanceof CertificateCredential) {
      const jwt = await createClientAssertion(m.value, { clientId: 'c', audience: 'https://a.example/token' });
      await jwtVerify(jwt, m.value.publicKey, { audience: 'https://a.example/token' });
    }
    return;
  }
  expectTypedError(m.error, label);
  expect(codes, `${label}: ${m.error.message}`).toContain(m.error.code);
}

/** `depth` nested definite-length constructed values around `inner`, built in linear time. */
function nestedDer(depth: number, tag = 0x30, inner: Buffer = Buffer.from([0x05, 0x00])): Buffer {
  const sizes = new Array<number>(depth + 1);
  sizes[depth] = inner.length;
  for (let i = depth - 1; i >= 0; i--) sizes[i] = 1 + derLength(sizes[i + 1]!).length + sizes[i + 1]!;
  const out = Buffer.alloc(sizes[0]!);
  let at = 0;
  for (let i = 0; i < depth; i++) {
    out[at++] = tag;
    at += derLength(sizes[i + 1]!).copy(out, at);
  }
  inner.copy(out, at);
  return out;
}

/** `depth` nested indefinite-length values (BER), terminated or not. */
function nestedBer(depth: number, terminated = true, tag = 0x30): Buffer {
  const open = Buffer.alloc(depth * 2);
  for (let i = 0; i < depth; i++) open.set([tag, 0x80], 2 * i);
  return Buffer.concat([open, Buffer.from([0x05, 0x00]), terminated ? Buffer.alloc(depth * 2) : Buffer.alloc(0)]);
}

const bundle = fixture('pem-pkcs8-rsa.pem').toString('utf8');
const leafPem = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/)![0];
const keyPem = bundle.match(/-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----\n/)![0];
const otherCertPem = fixture('pem-ec-p384.pem').toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/)![0];

describe('huge inputs', () => {
  const random50 = randomBytes(MB50);
  const pemLooking50 = `-----BEGIN CERTIFICATE-----\n${randomBytes((MB50 / 4) * 3).toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;

  it('50 MB of random bytes: as a PFX, a certificate, a key and a file', async () => {
    const tooBig = ['ERR_MALFORMED'];
    await expectOutcome('loadCredential({pfx}) huge', '50 MB PFX', () => loadCredential({ pfx: random50 }), tooBig);
    await expectOutcome('loadCredential({pfx}) huge', '50 MB PFX, passphrase', () => loadCredential({ pfx: random50, passphrase: 'x' }), tooBig);
    const sequence50 = Buffer.from(random50);
    sequence50.set([0x30, 0x84], 0);
    sequence50.writeUInt32BE(sequence50.length - 6, 2);
    await expectOutcome('loadCredential({pfx}) huge', '50 MB PFX starting with a SEQUENCE header', () => loadCredential({ pfx: sequence50 }), tooBig);
    await expectOutcome('loadCertificate huge', '50 MB DER certificate', () => loadCertificate(random50), tooBig);
    await expectOutcome('loadCredential({certificate,privateKey}) huge', '50 MB certificate + key', () =>
      loadCredential({ certificate: random50, privateKey: keyPem }), tooBig);
    await expectOutcome('loadCredential({certificate,privateKey}) huge', 'certificate + 50 MB key', () =>
      loadCredential({ certificate: leafPem, privateKey: random50 }), tooBig);
    const file = path.join(tmp, 'random50.pfx');
    await writeFile(file, random50);
    await expectOutcome('loadCredentialFile huge', '50 MB file', () => loadCredentialFile(file, { passphrase: 'x' }), tooBig);
    await expectOutcome('loadCredentialFile huge', '50 MB key file', () => loadCredentialFile(path.join(fixturesDir, 'pem-separate-cert.pem'), { keyPath: file }), tooBig);
  });

  it('50 MB of PEM-looking text: as PEM, a certificate and a file', async () => {
    const tooBig = ['ERR_MALFORMED'];
    await expectOutcome('loadCredential({pem}) huge', '50 MB PEM', () => loadCredential({ pem: pemLooking50 }), tooBig);
    const bytes = Buffer.from(pemLooking50);
    await expectOutcome('loadCredential({pem}) huge', '50 MB PEM bytes', () => loadCredential({ pem: bytes }), tooBig);
    await expectOutcome('loadCertificate huge', '50 MB PEM certificate', () => loadCertificate(pemLooking50), tooBig);
    const key = pemLooking50.replaceAll('CERTIFICATE', 'PRIVATE KEY');
    await expectOutcome('loadCredential({certificate,privateKey}) huge', '50 MB PEM key', () => loadCredential({ certificate: leafPem, privateKey: key }), tooBig);
    const file = path.join(tmp, 'text50.pem');
    await writeFile(file, pemLooking50);
    await expectOutcome('loadCredentialFile huge', '50 MB PEM file', () => loadCredentialFile(file), tooBig);
  });

  it('a device that never ends is refused, not read', async () => {
    await expectOutcome('loadCredentialFile huge', '/dev/zero', () => loadCredentialFile('/dev/zero'), 'ERR_MALFORMED');
    await expectOutcome('loadCredentialFile huge', '/dev/urandom as keyPath', () =>
      loadCredentialFile(path.join(fixturesDir, 'pem-separate-cert.pem'), { keyPath: '/dev/urandom' }), 'ERR_MALFORMED');
  });

  it('10,000 certificate blocks with one key: refused quickly, as text, bytes, certificate and file', async () => {
    const many = otherCertPem.repeat(9_999) + leafPem + keyPem;
    expect(many.length).toBeGreaterThan(CAP); // also over the size cap: the count cap is tested below
    await expectOutcome('loadCredential({pem}) many blocks', '10,000 blocks', () => loadCredential({ pem: many }), 'ERR_MALFORMED');
    await expectOutcome('loadCertificate many blocks', '10,000 blocks', () => loadCertificate(many), 'ERR_MALFORMED');
    const file = path.join(tmp, 'many.pem');
    await writeFile(file, many);
    await expectOutcome('loadCredentialFile many blocks', '10,000 blocks', () => loadCredentialFile(file), 'ERR_MALFORMED');
  });

  it('the certificate count cap: 100 certificates load (leaf last), 101 are refused — under the size cap', async () => {
    const atCap = otherCertPem.repeat(99) + leafPem + keyPem;
    await expectOutcome('loadCredential({pem}) many blocks', '100 certificates', () => loadCredential({ pem: atCap }), 'ok');
    await expectOutcome('loadCertificate many blocks', '100 certificates', () => loadCertificate(atCap), 'ok');
    const overCap = otherCertPem.repeat(100) + leafPem + keyPem;
    expect(overCap.length).toBeLessThan(CAP);
    await expectOutcome('loadCredential({pem}) many blocks', '101 certificates', () => loadCredential({ pem: overCap }), 'ERR_MALFORMED');
    await expectOutcome('loadCertificate many blocks', '101 certificates', () => loadCertificate(overCap), 'ERR_MALFORMED');
    const keys = leafPem + keyPem.repeat(17);
    await expectOutcome('loadCredential({pem}) many blocks', '17 keys', () => loadCredential({ pem: keys }), 'ERR_MALFORMED');
  });

  it('BEGIN lines without END lines (quadratic scanning): bounded', async () => {
    const line = '-----BEGIN CERTIFICATE-----\nMIIB\n';
    const unterminated = line.repeat(Math.floor(CAP / line.length)); // just under the size cap
    await expectOutcome('loadCredential({pem}) unterminated blocks', '30,000 BEGIN lines', () => loadCredential({ pem: unterminated }), 'ERR_MALFORMED');
    await expectOutcome('loadCertificate unterminated blocks', '30,000 BEGIN lines', () => loadCertificate(unterminated), 'ERR_NO_CERTIFICATE');
    const labels = Array.from({ length: 10_000 }, (_, i) => `-----BEGIN L${i}-----\n`).join('') + leafPem;
    expect(labels.length).toBeLessThan(CAP);
    await expectOutcome('loadCertificate unterminated blocks', '10,000 distinct labels', () => loadCertificate(labels), 'ok');
    const overlapping = `${'-----BEGIN A-----BEGIN B'.repeat(10_000)}-----END A-----`;
    await expectOutcome('loadCredential({pem}) unterminated blocks', 'overlapping BEGIN lines', () => loadCredential({ pem: overlapping }), 'ERR_MALFORMED');
  });

  it('a JWT over the size cap (50 MB, 400 KB) is reported MALFORMED, not parsed', async () => {
    const cert = loadCertificate(leafPem);
    for (const [label, jwt] of [
      ['50 MB', `${'e'.repeat(MB50)}.e.e`],
      ['400 KB header', `${Buffer.from(JSON.stringify({ alg: 'PS256', pad: 'x'.repeat(300_000) })).toString('base64url')}.e30.AA`],
    ] as const) {
      tally.add('verifyClientAssertion huge');
      const m = await measureBounded(() => verifyClientAssertion(jwt, cert));
      tally.observe('verifyClientAssertion huge', m);
      expectBounded(m, label);
      expect(m.ok, label).toBe(true);
      expect(m.value!.problems.map((p) => p.code)).toContain('MALFORMED');
    }
  });
});

describe('deep and indefinite ASN.1 nesting', () => {
  it.for([
    ['DER: 1,000 nested SEQUENCEs', () => nestedDer(1_000)],
    ['DER: 50,000 nested SEQUENCEs (under the size cap)', () => nestedDer(50_000)],
    ['DER: 400,000 nested SEQUENCEs (over the size cap)', () => nestedDer(400_000)],
    ['DER: 50,000 nested [0] EXPLICIT', () => nestedDer(50_000, 0xa0)],
    ['BER: 60,000 nested indefinite lengths', () => nestedBer(60_000)],
    ['BER: 100,000 unterminated indefinite lengths', () => nestedBer(100_000, false)],
    ['BER: 60,000 nested constructed OCTET STRINGs', () => nestedBer(60_000, true, 0x24)],
    ['BER: indefinite length with no end at all', () => Buffer.from([0x30, 0x80, 0x30, 0x80])],
  ] as const)('%s, as a PFX, a DER certificate and a DER key', async ([label, build]) => {
    const bytes = build();
    await expectOutcome('loadCredential({pfx}) deep nesting', label, () => loadCredential({ pfx: bytes, passphrase: 'x' }), 'ERR_MALFORMED');
    await expectOutcome('loadCertificate deep nesting', label, () => loadCertificate(bytes), 'ERR_MALFORMED');
    await expectOutcome('loadCredential({certificate,privateKey}) deep nesting', label, () =>
      loadCredential({ certificate: leafPem, privateKey: bytes, passphrase: 'x' }), ['ERR_MALFORMED', 'ERR_BAD_PASSPHRASE']);
  });

  it('deep nesting inside a well-formed PFX: in a bag value, a key bag, a certificate bag and the MAC', async () => {
    const deep = nestedDer(40_000);
    const deepBer = nestedBer(40_000);
    const inputs: Array<[string, Buffer]> = [
      ['unknown bag value', pfx([dataContent(der.seq(der.oid('1.2.3.4'), der.explicit(0, deep)))])],
      ['key bag', pfx([dataContent(der.seq(der.oid(OIDS.keyBag), der.explicit(0, deepBer)))])],
      ['certificate', pfx([dataContent(der.seq(der.oid(OIDS.certBag), der.explicit(0, der.seq(der.oid(OIDS.x509Certificate), der.explicit(0, deep)))))])],
      ['nested safeContentsBag', pfx([dataContent(der.seq(der.oid(OIDS.safeContentsBag), der.explicit(0, deep)))])],
      ['MAC', pfx([dataContent()], der.seq(deep, der.octets('salt'), der.int(1)))],
      ['authSafe content', der.seq(der.int(3), der.seq(der.oid(OIDS.data), der.explicit(0, tlv(0x04, deepBer))))],
      ['constructed OCTET STRING segments', der.seq(der.int(3), der.seq(der.oid(OIDS.data), der.explicit(0, nestedBer(200, true, 0x24))))],
    ];
    for (const [label, bytes] of inputs) {
      await expectOutcome('loadCredential({pfx}) deep nesting', label, () => loadCredential({ pfx: bytes }), ['ERR_MALFORMED', 'ERR_NO_PRIVATE_KEY', 'ERR_UNSUPPORTED_KEY']);
    }
  });
});

describe('absurd key-derivation iteration counts: ERR_ITERATION_LIMIT before any derivation', () => {
  // A derivation of 2^31 - 1 iterations takes about an hour: refusing it within
  // 2 s (1 s of event-loop block; a refusal takes ~1 ms, so 10× margin holds on a
  // busy machine) proves none was started. Near the cap, the code proves the refusal.
  const quick = { maxMs: 2_000, maxBlockMs: 1_000 };
  const HUGE = 2 ** 31 - 1;

  /** A real OpenSSL 3 PFX with one of its iteration counts rewritten (forge re-encoding). */
  function rewriteFixture(file: string, iterations: number, where: 'mac' | 'certs' | 'key'): Buffer {
    const { asn1 } = forge;
    const parse = (bytes: Buffer | string) => asn1.fromDer(typeof bytes === 'string' ? bytes : bytes.toString('latin1'), { parseAllBytes: true, decodeBitStrings: false } as never);
    const int = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(iterations).getBytes());
    const root = parse(fixture(file));
    const children = (n: forge.asn1.Asn1) => n.value as forge.asn1.Asn1[];
    if (where === 'mac') {
      children(children(root)[2]!)[2] = int;
      return Buffer.from(asn1.toDer(root).getBytes(), 'latin1');
    }
    // authSafe: ContentInfo → [0] → OCTET STRING → AuthenticatedSafe
    const authOctets = children(children(children(root)[1]!)[1]!)[0]!;
    const authSafe = parse(authOctets.value as string);
    for (const info of children(authSafe)) {
      const type = asn1.derToOid(children(info)[0]!.value as string);
      if (where === 'certs' && type === OIDS.encryptedData) {
        // EncryptedData → EncryptedContentInfo → AlgorithmIdentifier (PBES2) → params → PBKDF2 → params → iterations
        const alg = children(children(children(children(info)[1]!)[0]!)[1]!)[1]!;
        children(children(children(children(alg)[1]!)[0]!)[1]!)[1] = int;
      }
      if (where === 'key' && type === OIDS.data) {
        const bags = parse(children(children(info)[1]!)[0]!.value as string);
        for (const bag of children(bags)) {
          if (asn1.derToOid(children(bag)[0]!.value as string) !== OIDS.shroudedKeyBag) continue;
          const alg = children(children(children(bag)[1]!)[0]!)[0]!;
          children(children(children(children(alg)[1]!)[0]!)[1]!)[1] = int;
        }
        children(children(info)[1]!)[0]!.value = asn1.toDer(bags).getBytes();
      }
    }
    authOctets.value = asn1.toDer(authSafe).getBytes();
    return Buffer.from(asn1.toDer(root).getBytes(), 'latin1');
  }

  it.for(['mac', 'certs', 'key'] as const)('the OpenSSL 3 fixture with 2^31-1 iterations for its %s', async (where) => {
    const bytes = rewriteFixture('pfx-openssl3-default.pfx', HUGE, where);
    for (const passphrase of [PASSPHRASE, undefined, 'wrong']) {
      await expectOutcome('loadCredential({pfx}) absurd iterations', `${where} 2^31-1`, () => loadCredential({ pfx: bytes, passphrase }), 'ERR_ITERATION_LIMIT', quick);
    }
    const file = path.join(tmp, `iter-${where}.pfx`);
    await writeFile(file, bytes);
    await expectOutcome('loadCredentialFile absurd iterations', `${where} 2^31-1`, () => loadCredentialFile(file, { passphrase: PASSPHRASE }), 'ERR_ITERATION_LIMIT', quick);
    // The rewrite itself is sound: at a cap that admits the count, the structure is accepted up to the (stale) MAC.
    expect(() => rewriteFixture('pfx-openssl3-default.pfx', 2048, where)).not.toThrow();
  });

  it('the unmodified fixture loads at its own count and is refused one below it', async () => {
    const bytes = fixture('pfx-openssl3-default.pfx');
    await expectOutcome('loadCredential({pfx}) absurd iterations', 'maxIterations 2048', () => loadCredential({ pfx: bytes, passphrase: PASSPHRASE }, { maxIterations: 2048 }), 'ok');
    await expectOutcome('loadCredential({pfx}) absurd iterations', 'maxIterations 2047', () => loadCredential({ pfx: bytes, passphrase: PASSPHRASE }, { maxIterations: 2047 }), 'ERR_ITERATION_LIMIT', quick);
  });

  it('hand-built: every place an iteration count can hide, at 2^31-1, 2^32, 2^64-1 (and 2^128, not an INTEGER we read)', async () => {
    for (const n of [HUGE, 2 ** 32, 2n ** 64n - 1n]) {
      const pbmac1 = der.seq(
        der.seq(der.seq(der.oid(OIDS.pbmac1), der.seq(der.seq(der.oid(OIDS.pbkdf2), der.seq(der.octets('salt'), der.int(n), der.int(32))), der.seq(der.oid(OIDS.hmacSha256)))), der.octets(Buffer.alloc(32))),
        der.octets('x'),
        der.int(1),
      );
      const pkcs12Pbe = der.seq(
        der.oid(OIDS.encryptedData),
        der.explicit(0, der.seq(der.int(0), der.seq(der.oid(OIDS.data), der.seq(der.oid(OIDS.pbeSha1With3Des), der.seq(der.octets('saltsalt'), der.int(n))), der.implicit(0, Buffer.alloc(32))))),
      );
      const pbes1KeyBag = der.seq(der.oid(OIDS.shroudedKeyBag), der.explicit(0, der.seq(der.seq(der.oid(OIDS.pbeWithSha1AndDesCbc), der.seq(der.octets('saltsalt'), der.int(n))), der.octets(Buffer.alloc(32)))));
      const inputs: Array<[string, Buffer]> = [
        ['classic MAC', pfx([dataContent()], classicMacData(n))],
        ['PBMAC1', pfx([dataContent()], pbmac1)],
        ['PBES2 encrypted content', pfx([encryptedContent(n)])],
        ['PBES2 shrouded key bag', pfx([dataContent(shroudedKeyBag(n))])],
        ['PKCS#12 PBE (3DES) content', pfx([pkcs12Pbe])],
        ['PBES1 key bag (for OpenSSL)', pfx([dataContent(pbes1KeyBag)])],
      ];
      for (const [label, bytes] of inputs) {
        for (const passphrase of ['pass', undefined]) {
          await expectOutcome('loadCredential({pfx}) absurd iterations', `${label} ${n}`, () => loadCredential({ pfx: bytes, passphrase }), 'ERR_ITERATION_LIMIT', quick);
        }
      }
    }
    await expectOutcome('loadCredential({pfx}) absurd iterations', 'MAC 2^128', () => loadCredential({ pfx: pfx([dataContent()], classicMacData(2n ** 128n)) }), 'ERR_MALFORMED', quick);
    await expectOutcome('loadCredential({pfx}) absurd iterations', 'MAC 0', () => loadCredential({ pfx: pfx([dataContent()], classicMacData(0)) }), 'ERR_MALFORMED', quick);
  });

  /** An EncryptedPrivateKeyInfo whose derivation would take hours, with a junk ciphertext. */
  function encryptedKey(kdf: Buffer): Buffer {
    return der.seq(der.seq(der.oid(OIDS.pbes2), der.seq(kdf, der.seq(der.oid(OIDS.aes256cbc), der.octets(Buffer.alloc(16, 2))))), der.octets(Buffer.alloc(1232, 5)));
  }
  const scrypt = (N: number, r: number, p: number) => der.seq(der.oid(OIDS.scrypt), der.seq(der.octets('saltsalt'), der.int(N), der.int(r), der.int(p)));

  it('encrypted PEM and DER keys (OpenSSL derives synchronously): PBKDF2, scrypt and PBES1 over the cap', async () => {
    const keys: Array<[string, Buffer]> = [
      ['PBKDF2 2^31-1', encryptedKey(pbkdf2Params(HUGE))],
      ['PBKDF2 2 × 10^6', encryptedKey(pbkdf2Params(2_000_000))],
      ['scrypt N=2^14 r=8 p=2^20', encryptedKey(scrypt(2 ** 14, 8, 2 ** 20))],
      ['scrypt N=2^20 r=8 p=1', encryptedKey(scrypt(2 ** 20, 8, 1))],
      ['PBES1 2^31-1', der.seq(der.seq(der.oid(OIDS.pbeWithSha1AndDesCbc), der.seq(der.octets('saltsalt'), der.int(HUGE))), der.octets(Buffer.alloc(1232)))],
    ];
    for (const [label, key] of keys) {
      const text = pem('ENCRYPTED PRIVATE KEY', key);
      for (const passphrase of ['pass', undefined]) {
        await expectOutcome('loadCredential({pem}) absurd iterations', `${label} bundle`, () => loadCredential({ pem: leafPem + text, passphrase }), 'ERR_ITERATION_LIMIT', quick);
      }
      await expectOutcome('loadCredential({certificate,privateKey}) absurd iterations', `${label} PEM`, () =>
        loadCredential({ certificate: leafPem, privateKey: text, passphrase: 'pass' }), 'ERR_ITERATION_LIMIT', quick);
      await expectOutcome('loadCredential({certificate,privateKey}) absurd iterations', `${label} DER`, () =>
        loadCredential({ certificate: leafPem, privateKey: key, passphrase: 'pass' }), 'ERR_ITERATION_LIMIT', quick);
      const file = path.join(tmp, 'key.pem');
      await writeFile(file, text);
      await expectOutcome('loadCredentialFile absurd iterations', `${label} keyPath`, () =>
        loadCredentialFile(path.join(fixturesDir, 'pem-separate-cert.pem'), { keyPath: file, passphrase: 'pass' }), 'ERR_ITERATION_LIMIT', quick);
    }
  });

  it('issue 10: a header line in an ENCRYPTED PRIVATE KEY block no longer bypasses the check (fail closed)', async () => {
    const text = pem('ENCRYPTED PRIVATE KEY', encryptedKey(pbkdf2Params(20_000_000)));
    const withHeader = text.replace('-----\n', '-----\nX: 1\n\n');
    expect(withHeader).toContain('X: 1');
    for (const passphrase of ['pass', undefined]) {
      await expectOutcome('loadCredential({pem}) header bypass', 'X: 1 header', () => loadCredential({ pem: leafPem + withHeader, passphrase }), 'ERR_MALFORMED', quick);
    }
    // The real fixture, the same header added: refused too, not decrypted by OpenSSL's own PEM reader.
    const real = fixture('pem-pkcs8-encrypted-aes256.pem').toString('latin1').replace('-----BEGIN ENCRYPTED PRIVATE KEY-----\n', '-----BEGIN ENCRYPTED PRIVATE KEY-----\nX: 1\n\n');
    await expectOutcome('loadCredential({pem}) header bypass', 'fixture + header', () => loadCredential({ pem: real, passphrase: PASSPHRASE }), 'ERR_MALFORMED', quick);
  });

  it('the encrypted PEM fixtures still load at the default cap, and the scrypt one is refused under its cost', async () => {
    for (const file of ['pem-pkcs8-encrypted-aes256.pem', 'pem-pkcs8-encrypted-scrypt.pem', 'pem-pkcs8-encrypted-pbes1.pem']) {
      await expectOutcome('loadCredential({pem}) absurd iterations', file, () => loadCredential({ pem: fixture(file), passphrase: PASSPHRASE }), 'ok', { maxMs: 2_000, maxBlockMs: 400 });
    }
    // openssl's scrypt defaults: N=16384, r=8, p=1, a cost of 131072
    await expectOutcome('loadCredential({pem}) absurd iterations', 'scrypt at maxIterations 131071', () =>
      loadCredential({ pem: fixture('pem-pkcs8-encrypted-scrypt.pem'), passphrase: PASSPHRASE }, { maxIterations: 131_071 }), 'ERR_ITERATION_LIMIT', quick);
    expect(DEFAULT_MAX_ITERATIONS).toBe(1_000_000);
  });
});

describe('files that multiply work: many derivations, keys, certificates and bags', () => {
  const options: LoadOptions = { maxIterations: 10_000 };
  const load = (bytes: Buffer, passphrase?: string) => () => loadCredential({ pfx: bytes, passphrase } as CredentialInput, options);

  it('more than 16 password-based derivations are refused before any', async () => {
    // Each bag costs 10^6 iterations (≈ 0.3–1 s of PBKDF2): 17 of them would break the bound,
    // which leaves the refusal (≈ 1 ms) a margin of 1,000× on a busy machine.
    const quick = { maxMs: 2_000, maxBlockMs: 1_000 };
    const atCap = (bytes: Buffer) => () => loadCredential({ pfx: bytes, passphrase: 'p' });
    await expectOutcome('loadCredential({pfx}) amplification', '17 shrouded key bags', atCap(pfx([dataContent(...Array.from({ length: 17 }, () => shroudedKeyBag(DEFAULT_MAX_ITERATIONS)))])), 'ERR_ITERATION_LIMIT', quick);
    const many = pfx([dataContentOf(Array.from({ length: 1_000 }, () => shroudedKeyBag(DEFAULT_MAX_ITERATIONS)))]);
    await expectOutcome('loadCredential({pfx}) amplification', '1,000 shrouded key bags at the default cap', () => loadCredential({ pfx: many, passphrase: 'p' }), 'ERR_ITERATION_LIMIT', quick);
    await expectOutcome('loadCredential({pfx}) amplification', '17 encrypted contents', atCap(pfx(Array.from({ length: 17 }, () => encryptedContent(DEFAULT_MAX_ITERATIONS)))), 'ERR_ITERATION_LIMIT', quick);
    await expectOutcome('loadCredential({pfx}) amplification', '9 contents + 8 key bags', atCap(pfx([...Array.from({ length: 9 }, () => encryptedContent(DEFAULT_MAX_ITERATIONS)), dataContent(...Array.from({ length: 8 }, () => shroudedKeyBag(DEFAULT_MAX_ITERATIONS)))])), 'ERR_ITERATION_LIMIT', quick);
  });

  it('no derivations are left running on the thread pool once the load has failed', async () => {
    // 200 PBKDF2 derivations of 10^6 iterations each: the load used to fail at
    // once (the first bad padding) while all of them kept libuv's four threads
    // busy for about half a minute, stalling every fs, dns and crypto call.
    const bytes = pfx([dataContentOf(Array.from({ length: 200 }, () => shroudedKeyBag(DEFAULT_MAX_ITERATIONS)))]);
    await expectOutcome('loadCredential({pfx}) amplification', '200 key bags at the default cap', () => loadCredential({ pfx: bytes, passphrase: 'p' }), 'ERR_ITERATION_LIMIT');
    const queued = performance.now();
    await new Promise((resolve) => pbkdf2('x', 'salt', 1, 32, 'sha256', resolve));
    expect(performance.now() - queued, 'a 1-iteration pbkdf2 queued behind the failed load').toBeLessThan(500);
  });

  it('16 derivations at the fuzz cap (the MAC counts as one) run, bounded, to a typed error', async () => {
    const contents = (keyBags: number) => [...Array.from({ length: 8 }, () => encryptedContent(10_000)), dataContent(...Array.from({ length: keyBags }, () => shroudedKeyBag(10_000)))];
    const bytes = pfx(contents(7), classicMacData(10_000));
    await expectOutcome('loadCredential({pfx}) amplification', '15 derivations + MAC', load(bytes, 'p'), ['ERR_BAD_PASSPHRASE']);
    await expectOutcome('loadCredential({pfx}) amplification', '15 derivations + MAC, no passphrase', load(bytes), ['ERR_PASSPHRASE_REQUIRED']);
    await expectOutcome('loadCredential({pfx}) amplification', '16 derivations + MAC', load(pfx(contents(8), classicMacData(10_000)), 'p'), ['ERR_ITERATION_LIMIT']);
    const noMac = pfx([...Array.from({ length: 8 }, () => encryptedContent(10_000)), dataContent(...Array.from({ length: 8 }, () => shroudedKeyBag(10_000)))]);
    await expectOutcome('loadCredential({pfx}) amplification', '16 derivations, no MAC', load(noMac, 'p'), ['ERR_BAD_PASSPHRASE']);
  });

  it('thousands of key, certificate and unknown bags, up to the size cap', async () => {
    const certDer = loadCertificate(leafPem).leaf;
    const certBag = der.seq(der.oid(OIDS.certBag), der.explicit(0, der.seq(der.oid(OIDS.x509Certificate), der.explicit(0, der.octets(Buffer.from(certDer))))));
    const keyDer = Buffer.from(keyPem.replace(/-----[A-Z ]+-----/g, ''), 'base64');
    const keyBag = der.seq(der.oid(OIDS.keyBag), der.explicit(0, keyDer));
    const unknownBag = der.seq(der.oid('1.2.840.113549.1.12.10.1.5'), der.explicit(0, tlv(0x05)));
    const fill = (bag: Buffer) => Array.from({ length: Math.floor((CAP - 64) / (bag.length + 1)) }, () => bag);
    const inputs: Array<[string, Buffer, string[]]> = [
      ['certificate bags up to the cap', pfx([dataContentOf(fill(certBag).slice(0, -5))]), ['ERR_MALFORMED']],
      ['101 certificate bags and the key', pfx([dataContent(keyBag, ...Array.from({ length: 101 }, () => certBag))]), ['ERR_MALFORMED']],
      ['100 certificate bags and the key', pfx([dataContent(keyBag, ...Array.from({ length: 100 }, () => certBag))]), ['ok']],
      ['key bags up to the cap', pfx([dataContentOf(fill(keyBag).slice(0, -5))]), ['ERR_MALFORMED']],
      ['unknown bags up to the cap', pfx([dataContentOf(fill(unknownBag).slice(0, -5))]), ['ERR_MALFORMED']],
      ['NULLs up to the cap as the AuthenticatedSafe', der.seq(der.int(3), der.seq(der.oid(OIDS.data), der.explicit(0, der.octets(tlvOf(0x30, Array.from({ length: CAP / 2 - 40 }, () => tlv(0x05))))))), ['ERR_MALFORMED']],
      ['zeros up to the cap, exactly', Buffer.concat([Buffer.from([0x30, 0x83, (CAP - 5) >> 16, ((CAP - 5) >> 8) & 0xff, (CAP - 5) & 0xff]), Buffer.alloc(CAP - 5)]), ['ERR_MALFORMED']],
      ['one byte over the cap', Buffer.alloc(CAP + 1, 0x30), ['ERR_MALFORMED']],
    ];
    for (const [label, bytes, codes] of inputs) {
      expect(bytes.length, label).toBeLessThanOrEqual(CAP + 1);
      await expectOutcome('loadCredential({pfx}) amplification', label, () => loadCredential({ pfx: bytes }, { ignoreValidityPeriod: true }), codes);
    }
  });
});
