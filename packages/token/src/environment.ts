/**
 * `EnvironmentCredential`: a credential configured by the `AZURE_*`
 * environment variables `@azure/identity`'s namesake reads, so a daemon moved
 * from `@azure/identity` keeps its deployment configuration.
 *
 * Source: `@azure/identity` `EnvironmentCredential` (learn.microsoft.com
 * `javascript/api/@azure/identity/environmentcredential`).
 *
 * @module
 */
import { inspect } from 'node:util';
import type { AccessToken, CachedTokenResponse } from './cache.js';
import type { GetTokenOptions } from './client.js';
import { ClientCertificateCredential, ClientSecretCredential, type ClientCertificateCredentialOptions } from './credentials.js';
import { TokenRequestError } from './errors.js';
import type { Connection } from './transport.js';

/** Options of {@link EnvironmentCredential}: those of `ClientCertificateCredential` (no `proofOfPossession`: a drop-in hands out bearer tokens), which win over the variables, and `env`. */
export interface EnvironmentCredentialOptions extends Omit<ClientCertificateCredentialOptions, 'proofOfPossession'> {
  /** Where to read the variables. Default `process.env`, read once, in the constructor. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * A `ClientCertificateCredential` (or, as a migration aid, a
 * `ClientSecretCredential`) made from the environment:
 *
 * | variable | meaning |
 * | --- | --- |
 * | `AZURE_TENANT_ID` | tenant id (required) |
 * | `AZURE_CLIENT_ID` | application (client) id (required) |
 * | `AZURE_CLIENT_CERTIFICATE_PATH` | PEM bundle or PFX file (a PKCS#11 URI works too); reloaded when it changes |
 * | `AZURE_CLIENT_CERTIFICATE_PASSWORD` | its passphrase; set but empty is the empty passphrase |
 * | `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` | `true` or `1` (any case): send `x5c` (subject name + issuer authentication) |
 * | `AZURE_AUTHORITY_HOST` | authority host (another cloud) |
 * | `AZURE_ADDITIONALLY_ALLOWED_TENANTS` | tenants `getToken`'s `tenantId` may name, `;`-separated, `*` for any |
 * | `AZURE_CLIENT_SECRET` | a client secret, used only when no certificate path is set |
 *
 * Unlike `@azure/identity`, a certificate wins over a secret when both are
 * set, and missing variables are reported by the constructor (not by the
 * first `getToken`), naming the variables, never a value.
 *
 * @example
 * ```ts
 * const credential = new EnvironmentCredential();
 * const blobs = new BlobServiceClient(url, credential);
 * ```
 */
export class EnvironmentCredential {
  readonly #credential: ClientCertificateCredential | ClientSecretCredential;

  /**
   * @param options - see {@link EnvironmentCredentialOptions}
   * @throws {@link TokenRequestError} `ERR_INVALID_OPTIONS`: a required variable missing, or an option or variable invalid
   */
  constructor(options: EnvironmentCredentialOptions = {}) {
    const { env = process.env, ...rest } = options;
    const value = (name: string) => {
      const v = env[name];
      return v === undefined || v.trim() === '' ? undefined : v.trim();
    };
    const tenantId = value('AZURE_TENANT_ID');
    const clientId = value('AZURE_CLIENT_ID');
    const certificatePath = value('AZURE_CLIENT_CERTIFICATE_PATH');
    const secret = env['AZURE_CLIENT_SECRET'];
    const missing = [
      ...(tenantId === undefined ? ['AZURE_TENANT_ID'] : []),
      ...(clientId === undefined ? ['AZURE_CLIENT_ID'] : []),
      ...(certificatePath === undefined && !secret ? ['AZURE_CLIENT_CERTIFICATE_PATH (or AZURE_CLIENT_SECRET)'] : []),
    ];
    if (missing.length > 0) {
      throw new TokenRequestError('ERR_INVALID_OPTIONS', `EnvironmentCredential: set ${missing.join(', ')}.`);
    }
    const allowed = value('AZURE_ADDITIONALLY_ALLOWED_TENANTS')
      ?.split(';')
      .map((t) => t.trim())
      .filter((t) => t !== '');
    const authorityHost = value('AZURE_AUTHORITY_HOST');
    const fromEnv = {
      ...(authorityHost === undefined || rest.tokenEndpoint !== undefined || rest.issuer !== undefined ? {} : { authorityHost }),
      ...(allowed === undefined ? {} : { additionallyAllowedTenants: allowed }),
    };
    if (certificatePath !== undefined) {
      const password = env['AZURE_CLIENT_CERTIFICATE_PASSWORD'];
      const sendChain = ['true', '1'].includes(value('AZURE_CLIENT_SEND_CERTIFICATE_CHAIN')?.toLowerCase() ?? '');
      this.#credential = new ClientCertificateCredential(
        tenantId!,
        clientId!,
        password === undefined ? certificatePath : { certificatePath, certificatePassword: password },
        { ...fromEnv, ...(sendChain ? { sendCertificateChain: true } : {}), ...rest },
      );
    } else {
      const { sendCertificateChain, algorithm, thumbprint, assertionLifetimeSeconds, kid, certificateCheckIntervalMs, ...common } = rest;
      this.#credential = new ClientSecretCredential(tenantId!, clientId!, secret!, { ...fromEnv, ...common });
    }
  }

  /** See `ClientCertificateCredential.getToken`. */
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken<'Bearer'>> {
    return this.#credential.getToken(scopes, options);
  }

  /** See `ClientCertificateCredential.getTokenResponse`. */
  getTokenResponse(scopes: string | string[], options?: GetTokenOptions): Promise<CachedTokenResponse> {
    return this.#credential.getTokenResponse(scopes, options);
  }

  /** See `ClientCertificateCredential.connection`. */
  connection(): Promise<Connection> {
    return this.#credential.connection();
  }

  /** The credential made, as it shows itself: client id, endpoint, certificate summary; never a secret. */
  toJSON(): Record<string, unknown> {
    return { credential: this.#credential.constructor.name, ...this.#credential.toJSON() };
  }

  [inspect.custom](): string {
    return `EnvironmentCredential ${inspect(this.toJSON())}`;
  }
}
