/**
 * A caller's `AbortSignal` (as `@azure/core-auth`'s `GetTokenOptions` pass
 * it): the typed error it produces, and waiting on shared work.
 *
 * @module
 */
import { TokenRequestError } from './errors.js';

/**
 * The `ERR_ABORTED` error for a caller's `AbortSignal`: a `TokenRequestError` named `AbortError`, the name
 * `@azure/core-rest-pipeline` (and the DOM's `AbortSignal` convention) checks.
 */
export function abortError(): TokenRequestError {
  const error = new TokenRequestError('ERR_ABORTED', 'The token request was aborted by the caller.');
  error.name = 'AbortError';
  return error;
}

/**
 * Wait for `promise`, or reject with `ERR_ABORTED` as soon as `signal` fires.
 * The work behind `promise` goes on (other callers may share it).
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
