/**
 * The credentials: an app-only access token for a client that authenticates
 * with a certificate (the way to do it), with an assertion from elsewhere
 * (federation, an external signer), or — as a migration aid only — with a
 * client secret.
 *
 * Each has the shape of `@azure/core-auth`'s `TokenCredential`
 * (`getToken(scopes, options) → { token, expiresOnTimestamp,
 * refreshAfterTimestamp, tokenType }`), so it plugs into Azure SDK clients,
 * and the constructor shape of its `@azure/identity` namesake.
 *
 * Create one credential per application and reuse it: its token cache lives
 * in the instance.
 *
 * Sources: RFC 6749 §4.4 (client credentials grant), RFC 7521 §4.2 and
 * RFC 7523 §2.2 (assertion client authentication), learn.microsoft.com
 * `entra/identity-platform/v2-oauth2-client-creds-grant-flow` and
 * `certificate-credentials`.
 *
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { inspect } from 'node:util';
import {
  CertificateCredential,
  type CertificateInfo,
  CLIENT_ASSERTION_TYPE,
  createClientAssertion,
  detectContainer,
  loadCredential,
  type JwsAlgorithm,
  type ThumbprintHeader,
} from '@x/assertion';
import type { z } from 'zod';
import { lazySchema } from '@x/assertion/internal';
import type { AccessToken, CachedTokenResponse } from './cache.js';
import type { TokenType } from './response.js';
import type { Connection } from './transport.js';
import type { TlsClientCertificate } from './dispatcher.js';
import type { DpopProofInput } from './binding/dpop.js';
import { TokenClient, type ClientAuthentication, type GetTokenOptions } from './client.js';
import { TokenRequestError } from './errors.js';
import { EventSink } from './events.js';
import { parseOptions, resolveOptions, tokenCredentialOptionsShape, type ProofOfPossession, type ResolvedOptions, type TokenCredentialOptions } from './options.js';
import { ReloadingCertificate } from './rotation.js';
import { isPkcs11Uri, Pkcs11KeySource, type HardwareKey } from './pkcs11.js';
import { storeKeyMaterial } from './store-lookup.js';
import { TenantClients } from './tenants.js';

/**
 * What the three credentials share: `getToken`, `getTokenResponse` and safe
 * printing, over one {@link TokenClient}. Not constructed directly.
 */
export abstract class ClientCredentialsGrantCredential<T extends TokenType = 'Bearer'> {
  readonly #tenants: TenantClients;

  protected constructor(tenants: TenantClients) {
    this.#tenants = tenants;
  }

  /**
   * An access token for `scopes`: from the cache when fresh (no I/O, the same
   * frozen object), else from the token endpoint (one request per scope set
   * however many callers wait). The refresh rule: see `TokenCache`.
   *
   * @param scopes - v2 / generic: scopes, e.g. `https://graph.microsoft.com/.default`; v1: one resource or `…/.default` scope
   * @param options - `abortSignal`, `forceRefresh`, `claims`, `enableCae`, `tenantId`: see {@link GetTokenOptions}
   * @throws {@link TokenRequestError} (`ERR_ABORTED` named `AbortError`; `ERR_TENANT_NOT_ALLOWED`; `ERR_INVALID_OPTIONS`
   *   for bad `claims`); for a certificate, `@x/assertion`'s `CredentialError` when it cannot be loaded or used
   */
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken<T>> {
    // The client checked the token type against the one asked for (T follows proofOfPossession).
    if (options?.tenantId === undefined) return this.#tenants.home.getToken(scopes, options) as Promise<AccessToken<T>>;
    try {
      return this.#tenants.client(options.tenantId).getToken(scopes, options) as Promise<AccessToken<T>>;
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /**
   * Like {@link getToken}, with every field of the token response (`scope`,
   * `resource`, `ext_expires_in`, `refresh_in`, …). Shares the cache.
   */
  getTokenResponse(scopes: string | string[], options?: GetTokenOptions): Promise<CachedTokenResponse> {
    try {
      return this.#tenants.client(options?.tenantId).getTokenResponse(scopes, options);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /** Client id and endpoint; never a key, passphrase, secret or token. */
  /**
   * How this credential reaches the network: its `fetch` and `undici`
   * dispatcher (proxy, `ca`). `createAuthorizedFetch` sends resource calls
   * the same way.
   */
  connection(): Promise<Connection> {
    return this.#tenants.home.connection();
  }

  /**
   * A DPoP proof (RFC 9449 §4.2, §7.1) by this credential's ephemeral key, for `createAuthorizedFetch`.
   *
   * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS` unless `proofOfPossession` is `'dpop'`
   */
  createDpopProof(input: DpopProofInput): Promise<string> {
    return this.#tenants.home.createDpopProof(input);
  }

  toJSON(): Record<string, unknown> {
    return this.#tenants.home.describe();
  }

  [inspect.custom](): string {
    return `${this.constructor.name} ${inspect(this.toJSON())}`;
  }
}

/**
 * The certificate of a {@link ClientCertificateCredential}:
 * - a path to a PEM bundle (certificate + key) or a PFX/P12 file;
 * - `{ certificatePath, keyPath?, passphrase? | passphraseFile? }`: the same
 *   with a separate PEM key file and/or a passphrase (or a file holding it);
 * - `{ certificate, privateKey?, passphrase? }`: PEM text, or PFX bytes
 *   (binary DER), in memory; `privateKey` when the key is a separate PEM;
 * - a `CertificateCredential` already loaded with `@x/assertion`;
 * - a PKCS#11 URI (RFC 7512, `pkcs11:…`) as the path: the key stays in the
 *   token and signs there, through the optional peer dependency `@x/pkcs11`.
 *
 * `certificatePassword` is `@azure/identity`'s name for `passphrase` (give one
 * of them; the empty string is a passphrase). `@azure/identity`'s forms
 * `{ certificatePath, certificatePassword? }` and `{ certificate: PEM,
 * certificatePassword? }` are thus accepted as they are.
 *
 * Given as a path, the file is reloaded when it changes (rotation without a
 * restart; see `certificateCheckIntervalMs`). An optional member may be
 * `undefined` (e.g. straight from `process.env`) under
 * `exactOptionalPropertyTypes`.
 */
export type ClientCertificate =
  | string
  | {
      readonly certificatePath: string;
      readonly keyPath?: string | undefined;
      readonly passphrase?: string | undefined;
      readonly certificatePassword?: string | undefined;
      /** A file holding the passphrase, read again whenever the certificate is (re)loaded: for a passphrase that rotates with the file (a Kubernetes Secret). */
      readonly passphraseFile?: string | undefined;
    }
  | {
      readonly certificate: string | Uint8Array;
      readonly privateKey?: string | Uint8Array | undefined;
      readonly passphrase?: string | undefined;
      readonly certificatePassword?: string | undefined;
    }
  | CertificateCredential;

/** Options of {@link ClientCertificateCredential}. */
export interface ClientCertificateCredentialOptions extends TokenCredentialOptions {
  /** Send the certificate chain as `x5c` (Entra subject name + issuer authentication). Default `false`. */
  readonly sendCertificateChain?: boolean;
  /** JWS algorithm of the assertion. Default by key: PS256 for RSA (Entra's current documentation). */
  readonly algorithm?: JwsAlgorithm;
  /** Thumbprint header(s) of the assertion. Default `'both'` (`x5t#S256` and `x5t`). */
  readonly thumbprint?: ThumbprintHeader;
  /** Assertion lifetime in seconds, 1 to 3600. Default 300 (Entra asks for 5–10 minutes at most). */
  readonly assertionLifetimeSeconds?: number;
  /**
   * The assertion's `kid` header. Default: the certificate's `kid` (its
   * `x5t#S256` thumbprint, the `kid` of `credential.toJwk()`), which servers
   * that pick the key by `kid` (oidc-provider, Keycloak) need and Entra ignores.
   */
  readonly kid?: string;
  /** For a certificate given as a path: check the file for changes at most this often, ms. Default 30,000. */
  readonly certificateCheckIntervalMs?: number;
}

const ALGORITHMS = ['PS256', 'RS256', 'PS384', 'PS512', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const satisfies
  readonly JwsAlgorithm[];

const certificateOptionsSchema = lazySchema((z) =>
  z.strictObject({
    ...tokenCredentialOptionsShape(z),
    sendCertificateChain: z.boolean().default(false),
    algorithm: z.enum(ALGORITHMS).optional(),
    thumbprint: z.enum(['x5t#S256', 'x5t', 'both']).optional(),
    assertionLifetimeSeconds: z.number().int().min(1).max(3600).optional(),
    kid: z.string().min(1).optional(),
    certificateCheckIntervalMs: z.number().int().min(0).default(30_000),
  }),
);

const commonOptionsSchema = lazySchema((z) => z.strictObject(tokenCredentialOptionsShape(z)));

const onePassphrase = (value: { passphrase?: string | undefined; certificatePassword?: string | undefined; passphraseFile?: string | undefined }) =>
  [value.passphrase, value.certificatePassword, value.passphraseFile].filter((p) => p !== undefined).length <= 1;
const onePassphraseMessage = { message: 'give one of passphrase, certificatePassword (its @azure/identity name) and passphraseFile' };
const certificatePathSchema = lazySchema((z) =>
  z
    .strictObject({
      certificatePath: z.string().min(1),
      keyPath: z.string().min(1).optional(),
      passphrase: z.string().optional(),
      certificatePassword: z.string().optional(),
      passphraseFile: z.string().min(1).optional(),
    })
    .refine(onePassphrase, onePassphraseMessage),
);
const inMemorySchema = lazySchema((z) => {
  const pemOrBytes = z.union([z.string().min(1), z.instanceof(Uint8Array)]);
  return z
    .strictObject({
      certificate: pemOrBytes,
      privateKey: pemOrBytes.optional(),
      passphrase: z.string().optional(),
      certificatePassword: z.string().optional(),
    })
    .refine(onePassphrase, onePassphraseMessage);
});

/**
 * Tell the forms of {@link ClientCertificate} apart and validate the one given.
 *
 * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS`
 */
function parseCertificate(value: unknown): ClientCertificate {
  if (typeof value === 'string' && value !== '') return value;
  if (value instanceof CertificateCredential) return value;
  if (typeof value === 'object' && value !== null) {
    if ('certificatePath' in value) return withPassphrase(parseOptions(certificatePathSchema, value, 'certificate'));
    if ('certificate' in value) return withPassphrase(parseOptions(inMemorySchema, value, 'certificate'));
  }
  throw new TokenRequestError(
    'ERR_INVALID_OPTIONS',
    'certificate must be a file path, { certificatePath, keyPath?, passphrase? }, ' +
      '{ certificate, privateKey?, passphrase? } or a CertificateCredential.',
  );
}

/** `certificatePassword` moved to `passphrase`. */
function withPassphrase<T extends { passphrase?: string | undefined; certificatePassword?: string | undefined }>(
  value: T,
): Omit<T, 'certificatePassword'> {
  const { certificatePassword: alias, ...rest } = value;
  return alias === undefined ? rest : { ...rest, passphrase: alias };
}

/**
 * The credential's {@link TenantClients}: the configured tenant's client and, with the Entra `authorityHost` form,
 * the maker of other allowed tenants' clients (the same options, the same client authentication and events).
 *
 * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS`
 */
function tenantClients(
  tenantId: string,
  clientId: string,
  parsed: z.output<ReturnType<typeof commonOptionsSchema>>,
  makeClient: (resolved: ResolvedOptions) => TokenClient,
): TenantClients {
  const home = makeClient(resolveOptions(tenantId, clientId, parsed));
  const fixed = parsed.tokenEndpoint !== undefined || parsed.issuer !== undefined;
  if (fixed && parsed.additionallyAllowedTenants.length > 0) {
    throw new TokenRequestError('ERR_INVALID_OPTIONS', 'additionallyAllowedTenants needs the Entra form (authorityHost + tenant), not tokenEndpoint or issuer.');
  }
  return new TenantClients({
    tenantId: String(tenantId),
    home,
    allowed: parsed.additionallyAllowedTenants,
    make: fixed ? undefined : (other) => makeClient(resolveOptions(other, clientId, parsed)),
  });
}

/**
 * App-only tokens for a client that proves itself with an X.509 certificate:
 * the client credentials grant with a signed JWT client assertion (RFC 7523),
 * a fresh one (new `jti`, `aud` = the token endpoint called) per request.
 *
 * @example
 * ```ts
 * const credential = new ClientCertificateCredential(tenantId, clientId, '/etc/app/cert.pfx');
 * const { token } = await credential.getToken('https://graph.microsoft.com/.default');
 * ```
 */
export class ClientCertificateCredential<P extends ProofOfPossession | undefined = undefined> extends ClientCredentialsGrantCredential<BoundTokenType<P>> {
  readonly #certificate: ReloadingCertificate | LoadedCertificate | Pkcs11KeySource;

  /**
   * @param tenantId - Entra tenant id (GUID) or domain; ignored with `tokenEndpoint` / `issuer`
   * @param clientId - the application (client) id: the assertion's `iss` and `sub`
   * @param certificate - see {@link ClientCertificate}; loaded on first use
   * @param options - see {@link ClientCertificateCredentialOptions}
   * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS`
   */
  constructor(
    tenantId: string,
    clientId: string,
    certificate: ClientCertificate,
    options: ClientCertificateCredentialOptions & { readonly proofOfPossession?: P } = {},
  ) {
    const parsed = parseOptions(certificateOptionsSchema, options, 'ClientCertificateCredential options');
    const resolved = resolveOptions(tenantId, clientId, parsed);
    const input = parseCertificate(certificate);
    const events = new EventSink(clientId, resolved.logger);
    const file =
      typeof input === 'string'
        ? { path: input }
        : 'certificatePath' in input
          ? { path: input.certificatePath, keyPath: input.keyPath, passphrase: input.passphrase, passphraseFile: input.passphraseFile }
          : undefined;
    if (file !== undefined && isPkcs11Uri(file.path) && (file.keyPath !== undefined || file.passphrase !== undefined || file.passphraseFile !== undefined)) {
      throw new TokenRequestError('ERR_INVALID_OPTIONS', 'A pkcs11: URI names the key and its PIN itself: give no keyPath or passphrase.');
    }
    const source =
      file === undefined
        ? new LoadedCertificate(input as InMemoryCertificate)
        : isPkcs11Uri(file.path)
          ? new Pkcs11KeySource(file.path)
          : new ReloadingCertificate(file, parsed.certificateCheckIntervalMs, resolved.now, events);
    const assertionOptions = {
      clientId,
      algorithm: parsed.algorithm,
      thumbprint: parsed.thumbprint,
      lifetimeSeconds: parsed.assertionLifetimeSeconds,
      includeX5c: parsed.sendCertificateChain,
    };
    const authenticate: ClientAuthentication = async (tokenEndpoint) => {
      const credential = await source.current();
      const kid = parsed.kid ?? certificateOf(credential).kid;
      const assertion = await createClientAssertion(credential, { ...assertionOptions, audience: tokenEndpoint, kid });
      return { client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion };
    };
    const clientKey = async () => {
      const credential = await source.current();
      // A hardware key gives no key material here: a store then needs its own encryptionKey.
      const keyMaterial = async () => (credential instanceof CertificateCredential ? storeKeyMaterial(credential) : undefined);
      return { certificateThumbprint: certificateOf(credential).thumbprints['x5t#S256'], keyMaterial };
    };
    // The same object while the certificate in use is the same: the connection is rebuilt only after a rotation.
    let presented: { readonly from: CertificateCredential | HardwareKey; readonly material: TlsClientCertificate } | undefined;
    const tlsClient = async () => {
      const current = await source.current();
      if (presented?.from !== current) presented = { from: current, material: tlsClientCertificate(current) };
      return presented.material;
    };
    super(tenantClients(tenantId, clientId, parsed, (options) => new TokenClient(clientId, options, authenticate, events, clientKey, tlsClient)));
    this.#certificate = source;
  }

  /** Client id, endpoint and certificate summary (path, subject, thumbprints, validity); no key or passphrase. */
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), certificate: this.#certificate.toJSON() };
  }
}

/**
 * The certificate chain and key as PEM for Node's TLS (RFC 8705 §2). Node's handshake needs the key in memory.
 *
 * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS` for a PKCS#11 key
 */
function tlsClientCertificate(credential: CertificateCredential | HardwareKey): TlsClientCertificate {
  if (!(credential instanceof CertificateCredential)) {
    throw new TokenRequestError('ERR_INVALID_OPTIONS', 'Mutual TLS needs the private key in memory: a PKCS#11 key signs assertions and DPoP proofs, not TLS handshakes.');
  }
  return {
    certificatePem: credential.chain.map((der) => new X509Certificate(der).toString()).join(''),
    privateKeyPem: credential.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}

/**
 * The token types a certificate credential can hand out: `Bearer` without `proofOfPossession`; `DPoP` with `'dpop'`;
 * `Bearer` (RFC 8705) or `mtls_pop` (Entra) with `'mtls'`; `Bearer` also when `allowTokenTypeDowngrade`. Only the
 * plain form is an `@azure/core-auth` `TokenCredential`: a bound token is not a bearer token.
 */
export type BoundTokenType<P extends ProofOfPossession | undefined> = P extends 'dpop' ? 'DPoP' | 'Bearer' : P extends 'mtls' ? 'Bearer' | 'mtls_pop' : 'Bearer';

function certificateOf(credential: CertificateCredential | HardwareKey): CertificateInfo {
  return credential instanceof CertificateCredential ? credential : credential.certificate;
}

type InMemoryCertificate = Exclude<ClientCertificate, string | { certificatePath: string }>;

/** A certificate given in memory: loaded once, on first use. */
class LoadedCertificate {
  readonly #input: InMemoryCertificate;
  #loading: Promise<CertificateCredential> | undefined;
  #loaded: CertificateCredential | undefined;

  constructor(input: InMemoryCertificate) {
    this.#input = input;
    if (input instanceof CertificateCredential) this.#loaded = input;
  }

  current(): Promise<CertificateCredential> {
    if (this.#loaded !== undefined) return Promise.resolve(this.#loaded);
    this.#loading ??= this.#load().then(
      (credential) => (this.#loaded = credential),
      (error: unknown) => {
        this.#loading = undefined;
        throw error;
      },
    );
    return this.#loading;
  }

  #load(): Promise<CertificateCredential> {
    const input = this.#input as Exclude<InMemoryCertificate, CertificateCredential>;
    const { certificate, privateKey, passphrase } = input;
    if (privateKey !== undefined) return loadCredential({ certificate, privateKey, passphrase });
    // @x/assertion's one sniffing rule decides PFX or PEM for bytes; a string is PEM text.
    return typeof certificate !== 'string' && detectContainer(certificate) === 'pfx'
      ? loadCredential({ pfx: certificate, passphrase })
      : loadCredential({ pem: certificate, passphrase });
  }

  toJSON(): unknown {
    return this.#loaded?.toJSON();
  }
}

/** What a `getAssertion` callback is told. */
export interface AssertionContext {
  readonly clientId: string;
  /** The token endpoint the assertion will be sent to: its `aud`. */
  readonly tokenEndpoint: string;
}

/**
 * App-only tokens with a client assertion made elsewhere: a federated token
 * (workload identity: Kubernetes, GitHub Actions), or a JWT signed by an HSM
 * or key vault. `getAssertion` is called for every request, so return a
 * fresh assertion (or a fresh read of the token file) each time.
 *
 * @example
 * ```ts
 * const credential = new ClientAssertionCredential(tenantId, clientId, () => readFile(process.env.AZURE_FEDERATED_TOKEN_FILE!, 'utf8'));
 * ```
 */
export class ClientAssertionCredential extends ClientCredentialsGrantCredential {
  /**
   * @param tenantId - Entra tenant id or domain; ignored with `tokenEndpoint` / `issuer`
   * @param clientId - the application (client) id
   * @param getAssertion - returns the compact JWT to send as `client_assertion`
   * @param options - see {@link TokenCredentialOptions}
   * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS`
   */
  constructor(
    tenantId: string,
    clientId: string,
    getAssertion: (context: AssertionContext) => string | Promise<string>,
    options: TokenCredentialOptions = {},
  ) {
    const parsed = parseOptions(commonOptionsSchema, options, 'ClientAssertionCredential options');
    const resolved = resolveOptions(tenantId, clientId, parsed);
    if (typeof getAssertion !== 'function') throw new TokenRequestError('ERR_INVALID_OPTIONS', 'getAssertion must be a function.');
    const authenticate: ClientAuthentication = async (tokenEndpoint) => {
      let assertion: unknown;
      try {
        assertion = await getAssertion({ clientId, tokenEndpoint });
      } catch (cause) {
        throw new TokenRequestError('ERR_ASSERTION_CALLBACK', 'The getAssertion callback failed.', { cause });
      }
      if (typeof assertion !== 'string' || assertion.trim() === '') {
        throw new TokenRequestError('ERR_ASSERTION_CALLBACK', 'The getAssertion callback returned no assertion string.');
      }
      return { client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion.trim() };
    };
    const events = new EventSink(clientId, resolved.logger);
    super(tenantClients(tenantId, clientId, parsed, (options) => new TokenClient(clientId, options, authenticate, events)));
  }
}

/**
 * **A migration aid, not a recommendation.** App-only tokens with a client
 * secret (`client_secret` in the form body, as Entra ID expects). A secret is
 * a password that leaks with a config file or a log line and cannot be kept
 * in an HSM; move to {@link ClientCertificateCredential} (or to
 * {@link ClientAssertionCredential} with federation) and delete the secret.
 * Offered only so the switch from `@azure/identity` can be done one
 * credential at a time.
 *
 * The secret is kept in a private field: `util.inspect`, `JSON.stringify`,
 * events and errors never show it.
 */
export class ClientSecretCredential extends ClientCredentialsGrantCredential {
  readonly #clientSecret: string;

  /**
   * @param tenantId - Entra tenant id or domain; ignored with `tokenEndpoint` / `issuer`
   * @param clientId - the application (client) id
   * @param clientSecret - the secret
   * @param options - see {@link TokenCredentialOptions}
   * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS`
   */
  constructor(tenantId: string, clientId: string, clientSecret: string, options: TokenCredentialOptions = {}) {
    const parsed = parseOptions(commonOptionsSchema, options, 'ClientSecretCredential options');
    const resolved = resolveOptions(tenantId, clientId, parsed);
    if (typeof clientSecret !== 'string' || clientSecret === '') {
      throw new TokenRequestError('ERR_INVALID_OPTIONS', 'clientSecret must be a non-empty string.');
    }
    const authenticate: ClientAuthentication = () => Promise.resolve({ client_secret: this.#clientSecret });
    const events = new EventSink(clientId, resolved.logger);
    super(tenantClients(tenantId, clientId, parsed, (options) => new TokenClient(clientId, options, authenticate, events)));
    this.#clientSecret = clientSecret;
  }
}
