/**
 * Errors the CLI itself raises. Library errors (`CredentialError`,
 * `TokenRequestError`) are reported as they are, by their `code`.
 *
 * @module
 */

/** Exit statuses: 0 success, 1 failure or invalid assertion, 2 usage error. */
export const ExitCode = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

/** A failure with a stable code, reported as `x-assertion: <code>: <message>`. */
export class CliError extends Error {
  /**
   * @param code - stable `ERR_*` code
   * @param message - one sentence, no secrets
   * @param exitCode - process exit status (default 1)
   * @param options - `cause`, shown with `--debug`
   */
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number = ExitCode.FAILURE,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** A command line that cannot be run: exit 2 with a short usage line. */
export class UsageError extends CliError {
  /**
   * @param message - what is wrong with the command line
   * @param usage - the usage line of the command concerned
   * @param options - `cause`: the library error it rewords
   */
  constructor(
    message: string,
    readonly usage: string,
    options?: ErrorOptions,
  ) {
    super('ERR_USAGE', message, ExitCode.USAGE, options);
    this.name = 'UsageError';
  }
}
