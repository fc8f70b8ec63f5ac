/**
 * `@x/cli`: the `x-assertion` command line. The package's export is
 * {@link main}, for running the CLI in-process (tests, wrappers).
 *
 * @packageDocumentation
 */
export { main, COMMANDS, type CommandEntry } from './main.js';
export { CliError, UsageError, ExitCode } from './errors.js';
export type { Io, TextSink, InputStream } from './io.js';
export type { Command } from './args.js';
