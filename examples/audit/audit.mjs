#!/usr/bin/env node
// Audit a client assertion (RFC 7523 / Microsoft Entra ID certificate
// credential) captured from a request log: decode it, verify it against the
// certificate the way an authorization server would (`verifyClientAssertion`
// of @x/assertion), and print every header field, every claim and every
// check. Exit 0 when valid, 1 when not, 2 for a usage error.
//
//   node audit.mjs --cert app.crt "$JWT"
//   grep client_assertion= access.log | tail -1 | node audit.mjs --cert app.crt --at 2026-01-15T10:30:12Z
//   node audit.mjs --self-test             # a throwaway certificate, a good and a tampered assertion
//
// The signature is never printed: until it expires, an assertion is a credential.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  createClientAssertion,
  isCredentialError,
  loadCertificate,
  loadCredential,
  loadCredentialFile,
  verifyClientAssertion,
} from '@x/assertion';
import { makeSelfSignedPfx } from '@x/examples-shared';

const USAGE = `usage: node audit.mjs --cert <file> [<jwt> | -] [--client-id <id>] [--audience <url>]
                      [--at <time>] [--clock-tolerance <s>] [--json]
       node audit.mjs --self-test [--json]

  <jwt> | -               the assertion; "-" or nothing: read stdin. A bare JWT, or a log line or
                          form body holding client_assertion=<jwt> (URL-encoded or not)
  --cert <file>           the certificate it should be signed with: PEM or DER certificate, PEM bundle,
                          or PFX (AZURE_CLIENT_CERTIFICATE_PASSWORD opens an encrypted one)
  --client-id <id>        expected iss = sub
  --audience <url>        expected aud: the token endpoint URL, exactly
  --at <time>             verify as of this time (ISO 8601 or Unix seconds), e.g. the log line's
                          timestamp: a captured assertion has usually expired since (default: now)
  --clock-tolerance <s>   seconds of clock skew allowed on exp/nbf/iat (default 0)
  --json                  print one JSON object
  --self-test             make a certificate, sign an assertion, audit it and two bad variants`;

/** Every check the audit reports, with the @x/assertion problem codes that fail it. */
const CHECKS = [
  { name: 'signature', codes: ['MALFORMED', 'BAD_SIGNATURE'], what: "the signature verifies with the certificate's public key" },
  { name: 'algorithm', codes: ['ALGORITHM_MISMATCH'], what: "alg fits the certificate's key" },
  { name: 'thumbprint-present', codes: ['THUMBPRINT_MISSING'], what: 'an x5t or x5t#S256 header names the certificate' },
  { name: 'thumbprint-match', codes: ['THUMBPRINT_MISMATCH'], what: "x5t / x5t#S256 are this certificate's thumbprints" },
  { name: 'x5c', codes: ['X5C_MISMATCH'], what: 'the x5c leaf is this certificate' },
  { name: 'aud-present', codes: ['AUDIENCE_MISSING'], what: 'aud is present' },
  { name: 'aud-expected', codes: ['AUDIENCE_MISMATCH'], what: 'aud is the expected token endpoint' },
  { name: 'iss-present', codes: ['ISSUER_MISSING'], what: 'iss is present' },
  { name: 'iss-equals-sub', codes: ['ISSUER_SUBJECT_MISMATCH'], what: 'iss = sub (both the client id)' },
  { name: 'client-id', codes: ['CLIENT_ID_MISMATCH'], what: 'iss and sub are the expected client id' },
  { name: 'exp-present', codes: ['EXPIRY_MISSING'], what: 'exp is present' },
  { name: 'not-expired', codes: ['EXPIRED'], what: 'exp is not past' },
  { name: 'nbf', codes: ['NOT_YET_VALID'], what: 'nbf is not in the future' },
  { name: 'iat', codes: ['ISSUED_IN_FUTURE'], what: 'iat is not in the future' },
  { name: 'lifetime', codes: ['LIFETIME_TOO_LONG'], what: 'exp − (nbf or iat) is at most 3600 s' },
  { name: 'jti', codes: ['JTI_MISSING'], what: 'jti is present (replay protection)' },
  { name: 'certificate-validity', codes: ['CERT_NOT_VALID_AT_TIME'], what: 'the certificate was within its validity period' },
];

let flags;
let positionals;
try {
  ({ values: flags, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      cert: { type: 'string' },
      'client-id': { type: 'string' },
      audience: { type: 'string' },
      at: { type: 'string' },
      'clock-tolerance': { type: 'string' },
      json: { type: 'boolean', default: false },
      'self-test': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  usageError(error.message);
}
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

process.exitCode = flags['self-test'] ? await selfTest() : await auditCommand();

async function auditCommand() {
  if (!flags.cert) usageError('--cert is required');
  if (positionals.length > 1) usageError('give one assertion');
  const at = flags.at === undefined ? undefined : parseTime(flags.at);
  const tolerance = flags['clock-tolerance'] === undefined ? 0 : Number(flags['clock-tolerance']);
  if (!Number.isInteger(tolerance) || tolerance < 0) usageError('--clock-tolerance must be a whole number of seconds ≥ 0');

  let input = positionals[0];
  if (input === undefined || input === '-') {
    if (process.stdin.isTTY) usageError('give the assertion as an argument or on stdin');
    input = await readStdin();
  }
  let certificate;
  try {
    certificate = await readCertificate(flags.cert);
  } catch (error) {
    process.stderr.write(`audit: cannot read the certificate ${flags.cert}: ${error?.code ?? error?.name}: ${error?.message}\n`);
    return 2;
  }
  const report = await audit(extractAssertion(input), certificate, {
    clientId: flags['client-id'],
    audience: flags.audience,
    now: at,
    clockToleranceSeconds: tolerance,
  });
  if (flags.json) console.log(JSON.stringify(report, null, 2));
  else printReport(report);
  return report.valid ? 0 : 1;
}

/**
 * Verify `jwt` against `certificate` and describe the result: the decoded
 * header and claims, one entry per check (pass / FAIL / skip), notes on
 * Entra specifics, and the verdict.
 */
async function audit(jwt, certificate, expected = {}) {
  const now = expected.now ?? new Date();
  const verification = await verifyClientAssertion(jwt, certificate, {
    ...(expected.clientId === undefined ? {} : { clientId: expected.clientId }),
    ...(expected.audience === undefined ? {} : { audience: expected.audience }),
    now,
    clockToleranceSeconds: expected.clockToleranceSeconds ?? 0,
  });
  const problems = [...verification.problems];
  // One check of our own: Entra ID refuses a certificate outside its validity period (AADSTS700027).
  if (now < certificate.notBefore || now > certificate.notAfter) {
    problems.push({
      code: 'CERT_NOT_VALID_AT_TIME',
      message: `The certificate is valid ${certificate.notBefore.toISOString()} → ${certificate.notAfter.toISOString()}, not at ${now.toISOString()}.`,
    });
  }
  const { header, claims } = verification;
  const has = (code) => problems.some((p) => p.code === code);
  const skipped = (check) => {
    if (has('MALFORMED') && check.name !== 'signature' && check.name !== 'certificate-validity') return 'the JWT could not be decoded';
    if (check.name === 'signature' && has('ALGORITHM_MISMATCH')) return 'not checked: alg does not fit the key';
    if (check.name === 'x5c' && header?.x5c === undefined) return 'no x5c header';
    if (check.name === 'aud-expected' && (expected.audience === undefined || has('AUDIENCE_MISSING'))) return 'no --audience given';
    if (check.name === 'client-id' && expected.clientId === undefined) return 'no --client-id given';
    if (check.name === 'iss-equals-sub' && has('ISSUER_MISSING')) return 'no iss';
    if (check.name === 'not-expired' && has('EXPIRY_MISSING')) return 'no exp';
    if (check.name === 'nbf' && typeof claims?.nbf !== 'number') return 'no nbf';
    if (check.name === 'iat' && typeof claims?.iat !== 'number') return 'no iat';
    return undefined;
  };
  const checks = CHECKS.map((check) => {
    const failed = problems.filter((p) => check.codes.includes(p.code));
    const skip = failed.length === 0 ? skipped(check) : undefined;
    return { name: check.name, check: check.what, status: failed.length > 0 ? 'fail' : skip ? 'skip' : 'pass', ...(skip ? { reason: skip } : {}), problems: failed };
  });
  const known = new Set(CHECKS.flatMap((c) => c.codes));
  for (const p of problems.filter((p) => !known.has(p.code))) checks.push({ name: p.code, check: p.code, status: 'fail', problems: [p] });

  return {
    valid: problems.length === 0,
    at: now.toISOString(),
    certificate: {
      subject: certificate.subject,
      notBefore: certificate.notBefore.toISOString(),
      notAfter: certificate.notAfter.toISOString(),
      key: `${certificate.keyType} ${certificate.keySize}`,
      thumbprints: certificate.thumbprints,
    },
    header,
    claims,
    times: claims ? times(claims) : {},
    checks,
    notes: entraNotes(header, claims),
    problems,
  };
}

/** Things Entra ID cares about that are not failures for every server. */
function entraNotes(header, claims) {
  const notes = [];
  if (header === undefined || claims === undefined) return notes;
  if (!['RS256', 'PS256'].includes(header.alg)) notes.push(`alg ${header.alg}: Microsoft Entra ID accepts RS256 and PS256 only (AADSTS5002738).`);
  if (header['x5t#S256'] === undefined && header.x5t !== undefined) notes.push('Only x5t (SHA-1): current Entra documentation asks for x5t#S256.');
  const start = typeof claims.nbf === 'number' ? claims.nbf : claims.iat;
  if (typeof claims.exp === 'number' && typeof start === 'number' && claims.exp - start > 600) {
    notes.push(`Valid for ${claims.exp - start} s: Entra asks for 5–10 minutes at most.`);
  }
  if (typeof claims.aud === 'string' && /login\.microsoftonline\.|login\.partner\.|login\.microsoftonline\.us/.test(claims.aud) && !/\/oauth2\/(v2\.0\/)?token$/.test(claims.aud)) {
    notes.push('aud is an Entra host but not a token endpoint URL: Entra wants exactly https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token.');
  }
  return notes;
}

function times(claims) {
  return Object.fromEntries(
    ['iat', 'nbf', 'exp'].filter((k) => typeof claims[k] === 'number').map((k) => [k, new Date(claims[k] * 1000).toISOString()]),
  );
}

function printReport(r, say = console.log) {
  const c = r.certificate;
  say(`certificate  ${c.subject} (${c.key}), valid ${c.notBefore} → ${c.notAfter}`);
  say(`             x5t#S256 ${c.thumbprints['x5t#S256']}  x5t ${c.thumbprints.x5t}`);
  const show = (title, object) => {
    say(title);
    if (object === undefined) return say('  (could not be decoded)');
    const width = Math.max(...Object.keys(object).map((k) => k.length), 8);
    for (const [key, value] of Object.entries(object)) {
      let text = typeof value === 'string' ? value : JSON.stringify(value);
      if (text.length > 100) text = `${text.slice(0, 60)}…(${text.length} chars)`;
      if (title === 'claims' && r.times[key]) text += ` (${r.times[key]})`;
      say(`  ${key.padEnd(width)}  ${text}`);
    }
  };
  show('header', r.header);
  show('claims', r.claims);
  say('  signature (not shown)');
  say(`checks (as of ${r.at})`);
  const width = Math.max(...r.checks.map((k) => k.name.length));
  for (const check of r.checks) {
    const mark = { pass: 'pass', fail: 'FAIL', skip: 'skip' }[check.status];
    const detail = check.status === 'fail' ? check.problems.map((p) => `${p.code}: ${p.message}`).join(' ') : check.status === 'skip' ? `${check.check} (${check.reason})` : check.check;
    say(`  ${mark}  ${check.name.padEnd(width)}  ${detail}`);
  }
  for (const note of r.notes) say(`note: ${note}`);
  say(r.valid ? 'result: VALID' : `result: INVALID (${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}: ${[...new Set(r.problems.map((p) => p.code))].join(', ')})`);
}

/**
 * The assertion in `text`: the value of a `client_assertion=` form field
 * (a captured request body or a log line), else a JWT-shaped word, else the
 * text itself (which then fails as MALFORMED).
 */
function extractAssertion(text) {
  const field = /client_assertion=([^&\s"',;]+)/.exec(text);
  if (field) {
    try {
      return decodeURIComponent(field[1].replace(/\+/g, ' '));
    } catch {
      return field[1];
    }
  }
  const trimmed = text.trim();
  if (/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(trimmed)) return trimmed;
  return /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/.exec(text)?.[0] ?? trimmed;
}

/** A certificate alone (PEM / DER / the certificates of a PEM bundle), or the certificate of a PFX. */
async function readCertificate(path) {
  const bytes = await readFile(path);
  try {
    return loadCertificate(bytes);
  } catch (error) {
    if (bytes[0] !== 0x30 || !isCredentialError(error, 'ERR_MALFORMED')) throw error;
  }
  const passphrase = process.env.AZURE_CLIENT_CERTIFICATE_PASSWORD || undefined;
  return loadCredentialFile(path, { passphrase, ignoreValidityPeriod: true });
}

function parseTime(value) {
  const date = /^\d+(\.\d+)?$/.test(value) ? new Date(Number(value) * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) usageError(`--at: not a time: ${value}`);
  return date;
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Self-contained: a throwaway certificate, an assertion signed with it, and
 * three audits: the assertion as signed (valid), the same with one claim
 * changed after signing (invalid: BAD_SIGNATURE), and the original against
 * another certificate (invalid: BAD_SIGNATURE, THUMBPRINT_MISMATCH).
 */
async function selfTest() {
  const clientId = '11111111-2222-3333-4444-555555555555';
  const audience = 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token';
  const passphrase = 'self-test';
  const credential = await loadCredential({ pfx: makeSelfSignedPfx({ commonName: 'audit-self-test', passphrase }).pfx, passphrase });
  const other = await loadCredential({ pfx: makeSelfSignedPfx({ commonName: 'someone-else', passphrase }).pfx, passphrase });
  const jwt = await createClientAssertion(credential, { clientId, audience });

  // Tampered: sub (and iss) changed after signing, the original signature kept.
  const [h, p, s] = jwt.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  const forged = Buffer.from(JSON.stringify({ ...claims, iss: 'attacker', sub: 'attacker' })).toString('base64url');
  const tampered = `${h}.${forged}.${s}`;

  const cases = [
    { case: 'good assertion', jwt, certificate: credential, expect: { valid: true, codes: [] } },
    { case: 'tampered claims (iss/sub changed after signing)', jwt: tampered, certificate: credential, expect: { valid: false, codes: ['BAD_SIGNATURE', 'CLIENT_ID_MISMATCH'] } },
    { case: 'another certificate', jwt, certificate: other, expect: { valid: false, codes: ['BAD_SIGNATURE', 'THUMBPRINT_MISMATCH'] } },
  ];
  const results = [];
  for (const c of cases) {
    const report = await audit(c.jwt, c.certificate, { clientId, audience });
    const codes = new Set(report.problems.map((p) => p.code));
    const passed = report.valid === c.expect.valid && c.expect.codes.every((code) => codes.has(code));
    results.push({ case: c.case, expected: c.expect, passed, report });
  }
  const passed = results.every((r) => r.passed);
  if (flags.json) console.log(JSON.stringify({ selfTest: results, passed }, null, 2));
  else {
    for (const [i, r] of results.entries()) {
      console.log(`=== ${i + 1}. ${r.case}: expected ${r.expected.valid ? 'VALID' : `INVALID (${r.expected.codes.join(', ')})`}`);
      printReport(r.report);
      console.log(r.passed ? '=> as expected\n' : '=> NOT as expected\n');
    }
    console.log(passed ? 'self-test passed' : 'self-test FAILED');
  }
  return passed ? 0 : 1;
}

function usageError(message) {
  process.stderr.write(`audit: ${message}\n${USAGE}\n`);
  process.exit(2);
}
