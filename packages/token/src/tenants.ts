/**
 * Tokens for more than one tenant from one credential, as `@azure/identity`
 * allows them: `getToken`'s `tenantId` is honoured when it is the configured
 * tenant or listed in `additionallyAllowedTenants` (`'*'`: any tenant), and
 * refused otherwise. Each other tenant gets its own {@link TokenClient}
 * (its own token endpoint, `{authorityHost}/{tenant}/…`, hence its own
 * assertion `aud`, cache and token store key), at most
 * {@link MAX_TENANT_CLIENTS} of them, the least recently used dropped first.
 *
 * Source: `@azure/identity` `processMultiTenantRequest` (the allow-list rule);
 * learn.microsoft.com `azure/developer/javascript/sdk/authentication/multi-tenant`.
 *
 * @internal
 * @module
 */
import type { TokenClient } from './client.js';
import { TokenRequestError } from './errors.js';

/** The most tenants besides the configured one kept at a time (each with its own cache). */
export const MAX_TENANT_CLIENTS = 32;

/** The configured tenant's client and how to make another tenant's. */
export interface TenantRouting {
  /** The constructor's tenant id. */
  readonly tenantId: string;
  /** Its client. */
  readonly home: TokenClient;
  /** `additionallyAllowedTenants`. */
  readonly allowed: readonly string[];
  /** Makes the client of another tenant; `undefined` when the endpoint is fixed (`tokenEndpoint`, `issuer`). */
  readonly make: ((tenantId: string) => TokenClient) | undefined;
}

/** See the module documentation. */
export class TenantClients {
  readonly #routing: TenantRouting;
  readonly #others = new Map<string, TokenClient>();

  constructor(routing: TenantRouting) {
    this.#routing = routing;
  }

  /** The configured tenant's client. */
  get home(): TokenClient {
    return this.#routing.home;
  }

  /**
   * The client for `tenantId` (the configured one when `undefined` or equal, ignoring case).
   *
   * @throws {@link TokenRequestError} `ERR_TENANT_NOT_ALLOWED` for a tenant not allowed; `ERR_INVALID_OPTIONS` for a
   *   tenant id that is not one (see `resolveOptions`)
   */
  client(tenantId: string | undefined): TokenClient {
    const { tenantId: configured, home, allowed, make } = this.#routing;
    if (tenantId === undefined || tenantId.toLowerCase() === configured.toLowerCase()) return home;
    if (typeof tenantId !== 'string' || tenantId === '') {
      throw new TokenRequestError('ERR_INVALID_OPTIONS', 'tenantId must be a non-empty string.');
    }
    const key = tenantId.toLowerCase();
    const shown = /^[A-Za-z0-9.-]{1,100}$/.test(tenantId) ? `tenant "${tenantId}"` : 'a tenant';
    if (make === undefined) {
      throw new TokenRequestError(
        'ERR_TENANT_NOT_ALLOWED',
        `A token for ${shown} was requested, but this credential has a fixed tokenEndpoint or issuer: it serves one tenant.`,
      );
    }
    if (!allowed.includes('*') && !allowed.some((t) => t.toLowerCase() === key)) {
      throw new TokenRequestError(
        'ERR_TENANT_NOT_ALLOWED',
        `A token for ${shown} was requested, but the credential is configured for another tenant. ` +
          `Add it to additionallyAllowedTenants (or '*' for any tenant) to allow it.`,
      );
    }
    const known = this.#others.get(key);
    if (known !== undefined) {
      this.#others.delete(key);
      this.#others.set(key, known);
      return known;
    }
    const client = make(tenantId);
    if (this.#others.size >= MAX_TENANT_CLIENTS) this.#others.delete(this.#others.keys().next().value!);
    this.#others.set(key, client);
    return client;
  }
}
