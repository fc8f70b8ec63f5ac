import { randomUUID } from 'node:crypto';
import type { ZodType } from 'zod';
import { checkAlgorithm, JWS_ALGORITHMS, type JwsAlgorithm } from '../algorithms.js';
import { CertificateCredential, PREPARED } from '../credential/certificate.js';
import { lazySchema, parseOptions } from '../credential/options.js';
import { CredentialError } from '../errors.js';
import { toSigner, type ExternalSigner } from '../signer.js';

/** `client_assertion_type` for a JWT client assertion (RFC 7523 §2.2). */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Which certificate thumbprint header(s) to send (RFC 7515 §4.1.7, §4.1.8). */
export type ThumbprintHeader = 'x5t#S256' | 'x5t' | 'both';

/** Options of {@link createClientAssertion}. */
export interface ClientAssertionOptions {
  /** The client (application) id: `iss` and `sub` (RFC 7523 §3). */
  readonly clientId: string;
  /**
   * `aud`: the token endpoint URL the assertion is sent to, exactly (Entra:
   * `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`).
   */
  readonly audience: string;
  /**
   * Seconds from now to `exp`. Default 300. With the backdating of
   * `clockSkewSeconds`, the assertion's validity window `exp − nbf` is at
   * most {@link MAX_ASSERTION_LIFETIME_SECONDS} (so 1 to 3570 with the
   * default skew). Entra asks for 5–10 minutes at most.
   */
  readonly lifetimeSeconds?: number;
  /**
   * The JWS algorithm. Default by key: PS256 for RSA (current Entra
   * documentation), ES256/ES384/ES512 for EC P-256/P-384/P-521, EdDSA for
   * Ed25519. RS256 is the older Entra v1 choice. Entra accepts RSA only.
   */
  readonly algorithm?: JwsAlgorithm;
  /**
   * Thumbprint header(s). Default `'both'`: `x5t#S256` is what current Entra
   * documentation asks for, and `x5t` is what older servers match on.
   */
  readonly thumbprint?: ThumbprintHeader;
  /** Send the certificate chain as `x5c` (needed for Entra subject name + issuer authentication). Default `false`. */
  readonly includeX5c?: boolean;
  /** A `kid` header, for servers that select the key by id (oidc-provider, Keycloak): usually `credential.kid`. */
  readonly kid?: string;
  /**
   * Extra claims: JSON values only (strings, finite numbers, booleans, null,
   * arrays and plain objects of them; no `undefined`, functions or dates).
   * Registered claims (`iss sub aud exp nbf iat jti`) cannot be set here.
   */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** The signing time. Default: now. For test vectors. */
  readonly now?: Date;
  /** The `jti`. Default: a random UUID, fresh per call. For test vectors only: a server rejects a replayed `jti`. */
  readonly jti?: string;
  /** Seconds `nbf` and `iat` are backdated to absorb clock skew between this host and the server. Default 30; 0 to 60. */
  readonly clockSkewSeconds?: number;
}

/**
 * The longest validity window `exp − nbf` of a client assertion, in seconds:
 * what {@link createClientAssertion} makes (`lifetimeSeconds` +
 * `clockSkewSeconds`) and what {@link verifyClientAssertion} accepts by
 * default. One hour, as Microsoft Entra ID's certificate credential
 * documentation allows at most.
 */
export const MAX_ASSERTION_LIFETIME_SECONDS = 3600;

const REGISTERED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']);

const optionsSchema = lazySchema((z) => {
  /** A JSON value (RFC 8259) that `JSON.stringify` writes as itself. */
  const jsonValue: ZodType<unknown> = z.lazy(() =>
    z.union([z.string(), z.number().finite(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
  );
  return z
    .strictObject({
      clientId: z.string().min(1),
      audience: z.string().min(1),
      lifetimeSeconds: z.number().int().min(1).max(MAX_ASSERTION_LIFETIME_SECONDS).default(300),
      algorithm: z.enum(JWS_ALGORITHMS).optional(),
      thumbprint: z.enum(['x5t#S256', 'x5t', 'both']).default('both'),
      includeX5c: z.boolean().default(false),
      kid: z.string().min(1).optional(),
      claims: z
        .record(z.string(), jsonValue, { invalid_type_error: 'expected an object of JSON values' })
        .refine((c) => !Object.keys(c).some((k) => REGISTERED_CLAIMS.has(k)), {
          message: 'registered claims (iss, sub, aud, exp, nbf, iat, jti) are set by the library and cannot be overridden',
        })
        .optional(),
      clockSkewSeconds: z.number().int().min(0).max(60).default(30),
    })
    .refine((o) => o.lifetimeSeconds + o.clockSkewSeconds <= MAX_ASSERTION_LIFETIME_SECONDS, {
      path: ['lifetimeSeconds'],
      message: `lifetimeSeconds + clockSkewSeconds (the validity window exp − nbf) must be at most ${MAX_ASSERTION_LIFETIME_SECONDS}`,
    });
});

/** Per-call values of {@link PreparedClientAssertion.sign}; for test vectors. */
export interface SignOverrides {
  /** The signing time. Default: now. */
  readonly now?: Date;
  /** The `jti`. Default: a fresh random UUID. A server rejects a replayed `jti`. */
  readonly jti?: string;
}

/**
 * Client assertions for one signer and one set of options, with everything
 * that does not change per assertion (option validation, the header segment,
 * the key's signing parameters) computed once. Each `sign` call still makes a
 * fresh `jti`, `iat`, `nbf` and `exp`.
 */
export interface PreparedClientAssertion {
  /** The JWS algorithm every assertion is signed with. */
  readonly algorithm: JwsAlgorithm;
  /**
   * Sign a fresh assertion. Local keys sign on libuv's thread pool
   * (`crypto.sign` with a callback), so concurrent calls use every core;
   * an {@link ExternalSigner} is awaited.
   *
   * @throws {@link CredentialError} `ERR_INVALID_OPTIONS` (bad overrides), `ERR_SIGNER_FAILED`
   */
  sign(overrides?: SignOverrides): Promise<string>;
  /**
   * Sign a fresh assertion on the calling thread: the fastest path for one
   * assertion at a time (no thread-pool round trip, about 40 µs saved), but it
   * blocks the event loop for the signature (≈ 0.3 ms for RSA-2048).
   *
   * @throws {@link CredentialError} `ERR_INVALID_OPTIONS` for an
   *   {@link ExternalSigner} (which is asynchronous) or bad overrides
   */
  signSync(overrides?: SignOverrides): string;
}

/**
 * Create a JWT client assertion (RFC 7523 §2.2, §3; Microsoft Entra ID
 * "certificate credentials"): a compact JWS with header
 * `{ alg, typ: 'JWT', x5t?, x5t#S256?, x5c?, kid? }` and claims
 * `{ aud, iss, sub, jti, nbf, iat, exp, ...claims }` where `iss = sub = clientId`,
 * `nbf = iat = now - clockSkewSeconds` and `exp = now + lifetimeSeconds`
 * (seconds since the epoch). Same as `prepareClientAssertion(signer, options).sign()`.
 *
 * @param signer - a {@link CertificateCredential} or an {@link ExternalSigner}
 * @param options - see {@link ClientAssertionOptions}
 * @returns the compact JWS (`header.payload.signature`)
 * @throws {@link CredentialError} `ERR_INVALID_OPTIONS` (bad options, or an
 *   algorithm the key cannot make), `ERR_SIGNER_FAILED` (an external signer
 *   failed or returned a malformed signature), and for an external signer
 *   given PEM/DER, the certificate errors of {@link loadCertificate}
 */
export async function createClientAssertion(
  signer: CertificateCredential | ExternalSigner,
  options: ClientAssertionOptions,
): Promise<string> {
  const key = signer instanceof CertificateCredential ? cacheKey(options) : undefined;
  if (key === undefined) {
    const { now, jti, ...fixed } = options ?? ({} as ClientAssertionOptions);
    return prepareClientAssertion(signer, fixed).sign(now === undefined && jti === undefined ? undefined : { now, jti });
  }
  const credential = signer as CertificateCredential;
  const prepared = credential[PREPARED](key, () => prepareClientAssertion(credential, options));
  // A small key signs faster here than the thread-pool round trip costs (issue 12).
  return credential.keyType !== 'RSA' || credential.keySize <= 3072 ? prepared.signSync() : prepared.sign();
}

/**
 * A key naming these exact option values, or `undefined` when the options
 * are validated on every call: a value that is not a primitive (claims, a
 * `now` date), a per-call `now` or `jti`, or an object that is not a plain one.
 */
function cacheKey(options: object): string | undefined {
  if (options === null || typeof options !== 'object' || Object.getPrototypeOf(options) !== Object.prototype) return undefined;
  for (const name in options) {
    const type = typeof (options as Record<string, unknown>)[name];
    if (name === 'now' || name === 'jti' || (type !== 'string' && type !== 'number' && type !== 'boolean' && type !== 'undefined')) return undefined;
  }
  // Primitives only: JSON.stringify names each value exactly (NaN and Infinity, written null, are never valid).
  return JSON.stringify(options);
}

/**
 * Validate the options and precompute what every assertion for this signer
 * shares; see {@link PreparedClientAssertion}. Use it where assertions are
 * made repeatedly (a token client signs one per token request).
 *
 * @param signer - a {@link CertificateCredential} or an {@link ExternalSigner}
 * @param options - see {@link ClientAssertionOptions}; `now` and `jti` are per call, in `sign`
 * @throws {@link CredentialError} as {@link createClientAssertion}
 */
export function prepareClientAssertion(
  source: CertificateCredential | ExternalSigner,
  options: Omit<ClientAssertionOptions, 'now' | 'jti'>,
): PreparedClientAssertion {
  const opts = parseOptions(optionsSchema, options, 'client assertion options');
  const signer = toSigner(source);
  const { certificate } = signer;
  const algorithm = opts.algorithm ?? certificate.defaultAlgorithm;
  checkAlgorithm(certificate.keyType, certificate.curve, algorithm);

  const header: Record<string, unknown> = { alg: algorithm, typ: 'JWT' };
  if (opts.thumbprint !== 'x5t#S256') header.x5t = certificate.thumbprints.x5t;
  if (opts.thumbprint !== 'x5t') header['x5t#S256'] = certificate.thumbprints['x5t#S256'];
  if (opts.includeX5c) header.x5c = certificate.chain.map((der) => Buffer.from(der).toString('base64'));
  if (opts.kid !== undefined) header.kid = opts.kid;
  const headerSegment = Buffer.from(JSON.stringify(header)).toString('base64url');

  /** `base64url(header) '.' base64url(claims)` (RFC 7515 §5.1). */
  const signingInput = (overrides: SignOverrides | undefined): string => {
    const { now: date, jti = randomUUID() } = overrides === undefined ? NO_OVERRIDES : parseOptions(overridesSchema, overrides, 'sign overrides');
    const now = Math.floor((date?.getTime() ?? Date.now()) / 1000);
    const start = now - opts.clockSkewSeconds;
    const claims = { aud: opts.audience, iss: opts.clientId, sub: opts.clientId, jti, nbf: start, iat: start, exp: now + opts.lifetimeSeconds, ...opts.claims };
    return `${headerSegment}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  };
  const compact = (input: string, signature: Uint8Array) =>
    `${input}.${Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString('base64url')}`;

  return {
    algorithm,
    sign: async (overrides) => {
      const input = signingInput(overrides);
      return compact(input, await signer.sign(Buffer.from(input, 'latin1'), algorithm));
    },
    signSync: (overrides) => {
      if (!(signer instanceof CertificateCredential)) {
        throw new CredentialError('ERR_INVALID_OPTIONS', 'An external signer is asynchronous: use sign(), not signSync().');
      }
      const input = signingInput(overrides);
      return compact(input, signer.signSync(Buffer.from(input, 'latin1'), algorithm));
    },
  };
}

const NO_OVERRIDES: SignOverrides = {};
const overridesSchema = lazySchema((z) => z.strictObject({ now: z.date().optional(), jti: z.string().min(1).optional() }));
