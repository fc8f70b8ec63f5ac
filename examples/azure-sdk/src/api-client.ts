/**
 * A tiny client in the style of the Azure SDK: it knows nothing about
 * certificates, secrets or token endpoints. It is given a `TokenCredential`
 * (`@azure/core-auth`), asks it for a token before each request, and sends
 * `Authorization: Bearer <token>`. Any credential fits: `@x/token`'s
 * `ClientCertificateCredential`, `@azure/identity`'s credentials, a test fake.
 *
 * `@azure/core-auth` is needed for its types only (`import type`): nothing of
 * it runs.
 */
import type { TokenCredential } from '@azure/core-auth';

/** Options of {@link ApiClient}. */
export interface ApiClientOptions {
  /** The scope(s) to ask the credential for, e.g. `https://management.azure.com/.default`. */
  readonly scopes: string | string[];
  /** The `fetch` to send requests with. Default: the global `fetch`. */
  readonly fetch?: typeof globalThis.fetch;
}

/** A JSON answer. */
export interface ApiResponse<T> {
  readonly status: number;
  readonly body: T;
}

/** A non-2xx answer: status and the API's error code, never the token. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export class ApiClient {
  readonly #endpoint: URL;
  readonly #credential: TokenCredential;
  readonly #scopes: string | string[];
  readonly #fetch: typeof globalThis.fetch;
  #getTokenCalls = 0;

  /**
   * @param endpoint - the API's base URL
   * @param credential - any `TokenCredential`
   * @param options - see {@link ApiClientOptions}
   */
  constructor(endpoint: string, credential: TokenCredential, options: ApiClientOptions) {
    this.#endpoint = new URL(endpoint);
    this.#credential = credential;
    this.#scopes = options.scopes;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  /** How often this client asked its credential for a token (the credential decides whether that meant a request). */
  get getTokenCalls(): number {
    return this.#getTokenCalls;
  }

  /** `GET path` (relative to the endpoint, or absolute) with a bearer token; the JSON body. */
  async get<T = unknown>(path: string, options: { abortSignal?: AbortSignal } = {}): Promise<ApiResponse<T>> {
    this.#getTokenCalls += 1;
    const accessToken = await this.#credential.getToken(this.#scopes, { abortSignal: options.abortSignal });
    if (accessToken === null) throw new ApiError(0, 'no_token', 'The credential returned no token.');
    const response = await this.#fetch(new URL(path, this.#endpoint), {
      headers: { authorization: `Bearer ${accessToken.token}`, accept: 'application/json' },
      signal: options.abortSignal ?? null,
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    if (!response.ok) {
      const error = errorOf(body);
      throw new ApiError(response.status, error.code, `${response.status} ${error.code ?? response.statusText}: ${error.message ?? ''}`.trim());
    }
    return { status: response.status, body: body as T };
  }
}

/** OAuth-style `{error, error_description}` or Azure-style `{error: {code, message}}`. */
function errorOf(body: unknown): { code?: string; message?: string } {
  if (typeof body !== 'object' || body === null) return {};
  const error = (body as { error?: unknown }).error;
  if (typeof error === 'string') return { code: error, message: String((body as { error_description?: unknown }).error_description ?? '') };
  if (typeof error === 'object' && error !== null) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    return { code: typeof code === 'string' ? code : undefined, message: typeof message === 'string' ? message : undefined };
  }
  return {};
}
