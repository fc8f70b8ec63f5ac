import type { JWTPayload, ProtectedHeaderParameters } from 'jose';
import { keyName, type JwsAlgorithm } from '../algorithms.js';
import { CertificateInfo } from '../credential/certificate.js';
import { MAX_INPUT_BYTES } from '../sources/types.js';
import { loadCertificate } from '../credential/load.js';
import { MAX_ASSERTION_LIFETIME_SECONDS } from './sign.js';

/** What {@link verifyClientAssertion} checks against, beyond the signature. */
export interface VerifyExpectations {
  /** Expected `iss` = `sub`. */
  readonly clientId?: string;
  /** Expected `aud` (the token endpoint URL); with an array, any one of them. */
  readonly audience?: string | readonly string[];
  /** The verification time. Default: now. */
  readonly now?: Date;
  /** Seconds of clock skew tolerated on `exp`, `nbf` and `iat`. Default 0. */
  readonly clockToleranceSeconds?: number;
  /** The longest `exp − (nbf ?? iat)` accepted, in seconds. Default {@link MAX_ASSERTION_LIFETIME_SECONDS} (3600). */
  readonly maxLifetimeSeconds?: number;
}

/**
 * One failed check. `code` is stable; `message` is for people.
 *
 * The codes deliberately have no `ERR_` prefix: in this project `ERR_*` is
 * the `code` of something thrown (`CredentialError`, `TokenRequestError`),
 * which a caller catches; a problem is a finding in a returned report, and
 * {@link verifyClientAssertion} never throws for it. Keeping the two apart
 * keeps `MALFORMED` (the assertion does not decode: reported) distinct from
 * `ERR_MALFORMED` (the certificate given does not parse: thrown), and
 * `EXPIRED` (the assertion's `exp`) from `ERR_CERT_EXPIRED`.
 */
export interface VerificationProblem {
  readonly code:
    | 'MALFORMED'
    | 'BAD_SIGNATURE'
    | 'ALGORITHM_MISMATCH'
    | 'THUMBPRINT_MISSING'
    | 'THUMBPRINT_MISMATCH'
    | 'X5C_MISMATCH'
    | 'AUDIENCE_MISSING'
    | 'AUDIENCE_MISMATCH'
    | 'ISSUER_MISSING'
    | 'ISSUER_SUBJECT_MISMATCH'
    | 'CLIENT_ID_MISMATCH'
    | 'EXPIRY_MISSING'
    | 'EXPIRED'
    | 'NOT_YET_VALID'
    | 'ISSUED_IN_FUTURE'
    | 'LIFETIME_TOO_LONG'
    | 'JTI_MISSING';
  readonly message: string;
}

/** The result of {@link verifyClientAssertion}: every check, not only the first failure. */
export interface VerificationReport {
  /** `true` when `problems` is empty. */
  readonly valid: boolean;
  /** The decoded protected header (`undefined` when it could not be decoded). */
  readonly header: ProtectedHeaderParameters | undefined;
  /** The decoded claims (`undefined` when they could not be decoded). */
  readonly claims: JWTPayload | undefined;
  readonly problems: readonly VerificationProblem[];
}

/**
 * Verify a client assertion the way an authorization server would (RFC 7523
 * §3, Microsoft Entra ID certificate credentials), and report every problem:
 * signature (with `jose`) by the certificate's key, `alg` fit for the key,
 * `x5t`/`x5t#S256` headers equal to the certificate's thumbprints (at least
 * one present), `x5c` leaf equal to the certificate, `aud` (present; equal to
 * `expected.audience` if given), `iss` = `sub` (= `expected.clientId` if
 * given), `exp` present and not past, `nbf`/`iat` not in the future, the
 * lifetime, and `jti` present. Never throws for a bad assertion, whatever its
 * header and claims hold.
 *
 * @param jwt - the compact JWS
 * @param certificate - a {@link CertificateInfo} / credential, or PEM text / DER bytes
 * @param expected - see {@link VerifyExpectations}
 * @throws {@link CredentialError} `ERR_MALFORMED` / `ERR_NO_CERTIFICATE` only for an unreadable `certificate`
 */
export async function verifyClientAssertion(
  jwt: string,
  certificate: CertificateInfo | string | Uint8Array,
  expected: VerifyExpectations = {},
): Promise<VerificationReport> {
  const cert = certificate instanceof CertificateInfo ? certificate : loadCertificate(certificate);
  const jose = await import('jose'); // loaded on first use: a daemon that only signs never needs it
  const problems: VerificationProblem[] = [];
  const problem = (code: VerificationProblem['code'], message: string) => problems.push({ code, message });

  let header: ProtectedHeaderParameters | undefined;
  let claims: JWTPayload | undefined;
  try {
    if (typeof jwt !== 'string' || jwt.length > MAX_INPUT_BYTES) throw new Error('not a compact JWS');
    header = jose.decodeProtectedHeader(jwt);
    claims = jose.decodeJwt(jwt);
  } catch {
    problem('MALFORMED', 'Not a compact JWS with a JSON header and JSON claims.');
    return { valid: false, header, claims, problems };
  }

  const allowed = cert.algorithms;
  if (!allowed.includes(header.alg as JwsAlgorithm)) {
    problem('ALGORITHM_MISMATCH', `alg ${show(header.alg)} does not fit the certificate's ${keyName(cert.keyType, cert.curve)} key (expected ${allowed.join(', ')}).`);
  } else {
    try {
      await jose.compactVerify(jwt, cert.publicKey, { algorithms: [...allowed] });
    } catch {
      problem('BAD_SIGNATURE', "The signature does not verify with the certificate's public key.");
    }
  }

  checkCertificateHeaders(header, cert, problem);
  checkClaims(claims, expected, problem);
  return { valid: problems.length === 0, header, claims, problems };
}

type Report = (code: VerificationProblem['code'], message: string) => void;

function checkCertificateHeaders(header: ProtectedHeaderParameters, cert: CertificateInfo, problem: Report): void {
  const { x5t } = header;
  const x5tS256 = header['x5t#S256'];
  if (x5t === undefined && x5tS256 === undefined) {
    problem('THUMBPRINT_MISSING', 'Neither x5t nor x5t#S256 is in the header: Entra ID cannot find the certificate.');
  }
  if (x5t !== undefined && x5t !== cert.thumbprints.x5t) {
    problem('THUMBPRINT_MISMATCH', `x5t ${show(x5t)} is not this certificate's (${cert.thumbprints.x5t}).`);
  }
  if (x5tS256 !== undefined && x5tS256 !== cert.thumbprints['x5t#S256']) {
    problem('THUMBPRINT_MISMATCH', `x5t#S256 ${show(x5tS256)} is not this certificate's (${cert.thumbprints['x5t#S256']}).`);
  }
  const x5c: unknown = header.x5c;
  if (x5c !== undefined && (!Array.isArray(x5c) || x5c[0] !== Buffer.from(cert.leaf).toString('base64'))) {
    problem('X5C_MISMATCH', 'The first x5c certificate is not this certificate.');
  }
}

function checkClaims(claims: JWTPayload, expected: VerifyExpectations, problem: Report): void {
  const now = Math.floor((expected.now?.getTime() ?? Date.now()) / 1000);
  const tolerance = expected.clockToleranceSeconds ?? 0;
  const { aud, iss, sub, exp, nbf, iat, jti } = claims;

  const audiences = (Array.isArray(aud) ? aud : [aud]).filter((a): a is string => typeof a === 'string' && a !== '');
  const wanted = expected.audience === undefined ? undefined : typeof expected.audience === 'string' ? [expected.audience] : expected.audience;
  if (audiences.length === 0) problem('AUDIENCE_MISSING', 'aud is missing (or not a string): it must be the token endpoint URL.');
  else if (wanted && !audiences.some((a) => wanted.includes(a))) {
    problem('AUDIENCE_MISMATCH', `aud ${JSON.stringify(aud)} is not ${wanted.join(' or ')}.`);
  }

  if (typeof iss !== 'string' || iss === '') problem('ISSUER_MISSING', 'iss is missing: it must be the client id.');
  else if (iss !== sub) problem('ISSUER_SUBJECT_MISMATCH', `iss (${iss}) and sub (${show(sub)}) must both be the client id.`);
  if (expected.clientId !== undefined && (iss !== expected.clientId || sub !== expected.clientId)) {
    problem('CLIENT_ID_MISMATCH', `iss/sub are not the expected client id ${expected.clientId}.`);
  }

  if (typeof exp !== 'number') problem('EXPIRY_MISSING', 'exp is missing.');
  else if (exp <= now - tolerance) problem('EXPIRED', `exp ${isoTime(exp)} is past (now ${isoTime(now)}).`);
  if (typeof nbf === 'number' && nbf > now + tolerance) problem('NOT_YET_VALID', `nbf ${isoTime(nbf)} is in the future (now ${isoTime(now)}).`);
  if (typeof iat === 'number' && iat > now + tolerance) problem('ISSUED_IN_FUTURE', `iat ${isoTime(iat)} is in the future (now ${isoTime(now)}).`);
  const start = typeof nbf === 'number' ? nbf : iat;
  const maxLifetime = expected.maxLifetimeSeconds ?? MAX_ASSERTION_LIFETIME_SECONDS;
  if (typeof exp === 'number' && typeof start === 'number' && exp - start > maxLifetime) {
    problem('LIFETIME_TOO_LONG', `The assertion is valid for ${exp - start} s; at most ${maxLifetime} s is accepted.`);
  }

  if (typeof jti !== 'string' || jti === '') problem('JTI_MISSING', 'jti is missing: servers need it to reject replays.');
}

/** A NumericDate for a message; one outside the range of a Date is shown as the number. */
function isoTime(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? `${seconds} s` : date.toISOString();
}

/** A header or claim value (any JSON) for a message: `String()` throws for `{"toString":1}`. */
function show(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
}
