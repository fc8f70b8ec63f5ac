/**
 * The `x-assertion` command line: dispatch to a subcommand, report errors as
 * one line `x-assertion: <CODE>: <message>` on stderr, map outcomes to exit
 * statuses (0 ok, 1 failure or invalid, 2 usage).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { parseCommandLine, shownArgument, type Command, type RunContext } from './args.js';
import { CliError, ExitCode, UsageError } from './errors.js';
import { processIo, type Io } from './io.js';

/**
 * A subcommand as the dispatcher knows it: its name and help summary, and how
 * to load its code. Only the command that runs is imported (with the library
 * modules it needs), so a `thumbprint` process does not load the signing,
 * verification or token code.
 */
export interface CommandEntry {
  readonly name: string;
  /** One line for the global help. */
  readonly summary: string;
  load(): Promise<Command>;
}

/** Every subcommand, in help order. */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'thumbprint', summary: 'show x5t, x5t#S256, SHA-1/SHA-256 thumbprints, subject, issuer and validity', load: async () => (await import('./commands/thumbprint.js')).thumbprintCommand },
  { name: 'sign', summary: 'print a signed JWT client assertion (RFC 7523) for a client id and token endpoint', load: async () => (await import('./commands/sign.js')).signCommand },
  { name: 'inspect', summary: 'decode a JWT client assertion (times in ISO 8601); verify it with --cert', load: async () => (await import('./commands/inspect.js')).inspectCommand },
  { name: 'jwks', summary: 'print a JWKS (or Entra keyCredentials with --entra) for one or more certificates', load: async () => (await import('./commands/jwks.js')).jwksCommand },
  { name: 'token', summary: 'get an access token (client credentials grant, certificate client assertion)', load: async () => (await import('./commands/token.js')).tokenCommand },
  { name: 'create-certificate', summary: 'make a key pair and self-signed certificate, written as a PFX (no openssl needed)', load: async () => (await import('./commands/create-certificate.js')).createCertificateCommand },
];

const MAIN_USAGE = 'usage: x-assertion <thumbprint|sign|inspect|jwks|token|create-certificate> [options]   (x-assertion --help)';

function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return `x-assertion: certificate thumbprints, JWT client assertions (RFC 7523), JWKS and
access tokens from an X.509 certificate.

${MAIN_USAGE.replace('   (x-assertion --help)', '')}

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}

Global options:
  -h, --help    help (also: x-assertion <command> --help)
  --debug       print stack traces of errors (never secrets)
  --version     print the version

Exit status: 0 success, 1 failure or invalid assertion, 2 usage error.
Errors are one line on stderr: x-assertion: <CODE>: <message>
`;
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Run the CLI.
 *
 * @param argv - the arguments after the program name (`process.argv.slice(2)`)
 * @param io - streams and environment; defaults to the process's. Tests pass
 *   their own to run commands in-process.
 * @returns the exit status: 0 success, 1 failure or invalid assertion, 2 usage error
 */
export async function main(argv: string[], io: Partial<Io> = {}): Promise<number> {
  const ctx: RunContext = { io: processIo(io), debug: argv.includes('--debug'), secrets: new Set() };
  try {
    return await dispatch(ctx, argv);
  } catch (e) {
    return report(ctx, e);
  }
}

async function dispatch(ctx: RunContext, argv: string[]): Promise<number> {
  const args = [...argv];
  // Global flags before the command name.
  while (args[0]?.startsWith('-')) {
    const flag = args.shift()!;
    if (flag === '--debug') continue;
    if (flag === '--help' || flag === '-h') return writeOut(ctx, globalHelp());
    if (flag === '--version') return writeOut(ctx, `${version()}\n`);
    throw new UsageError(`Unknown option ${shownArgument(flag)}.`, MAIN_USAGE);
  }
  let name = args.shift();
  if (name === undefined) throw new UsageError('Missing command.', MAIN_USAGE);
  if (name === 'help') {
    name = args.shift();
    if (name === undefined) return writeOut(ctx, globalHelp());
    args.unshift('--help');
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) throw new UsageError(`Unknown command ${shownArgument(name)}.`, MAIN_USAGE);
  const command = await entry.load();
  const { values, positionals } = parseCommandLine(command, args);
  if (values.debug) ctx.debug = true;
  if (values.help) return writeOut(ctx, `${command.usage}\n\n${command.help}\n`);
  try {
    return await command.run({ ctx, values, positionals });
  } catch (e) {
    throw inFlagTerms(e, command.usage);
  }
}

/**
 * Library option names and the flags that set them. The CLI passes every
 * value on to `@x/assertion` / `@x/token`, which hold the policy (algorithm
 * table, lifetime limit, URL rules); their messages are reworded here so the
 * user reads the flag they typed.
 */
const FLAG_OF: ReadonlyArray<[RegExp, string]> = [
  [/\bkeyPath\b/g, '--key'],
  [/\blifetimeSeconds\b/g, '--lifetime'],
  [/\bclientId\b/g, '--client-id'],
  [/\bincludeX5c\b/g, '--x5c'],
  [/\btokenEndpoint\b/g, '--token-endpoint'],
  [/\bauthorityHost\b/g, '--authority-host'],
  [/\btenantId\b/g, '--tenant'],
  [/\brequireIntegrity\b/g, '--require-integrity'],
  [/\bclockSkewSeconds\b/g, 'the clock-skew backdating of nbf'],
  [/\balgorithm: /g, '--alg: '],
  [/\b(audience|thumbprint|kid|issuer|resource): /g, '--$1: '],
  [/\bAlgorithm (\S+) needs\b/g, '--alg $1 needs'],
];

/**
 * A library error as the user should read it: option names replaced by flags;
 * a bad option value (`ERR_INVALID_OPTIONS`) is a usage error like any other
 * bad command line (exit 2, `ERR_USAGE`).
 */
function inFlagTerms(e: unknown, usage: string): unknown {
  if (!(e instanceof Error) || e instanceof CliError) return e;
  const message = FLAG_OF.reduce((m, [pattern, flag]) => m.replace(pattern, flag), e.message);
  if ((e as { code?: unknown }).code === 'ERR_INVALID_OPTIONS') return new UsageError(message, usage, { cause: e });
  if (message !== e.message) e.message = message;
  return e;
}

function writeOut(ctx: RunContext, text: string): number {
  ctx.io.stdout.write(text);
  return ExitCode.OK;
}

/** Write the one-line error (plus the usage line, or the stack with `--debug`) and pick the exit status. */
function report(ctx: RunContext, e: unknown): number {
  const err = e instanceof Error ? e : new Error(String(e));
  const rawCode = (err as { code?: unknown }).code;
  const code = typeof rawCode === 'string' && rawCode !== '' ? rawCode : 'ERR_UNEXPECTED';
  let text = `x-assertion: ${code}: ${oneLine(err.message)}\n`;
  if (err instanceof UsageError) text += `${err.usage}\n`;
  if (ctx.debug) text += stackWithCauses(err);
  ctx.io.stderr.write(redact(ctx, text));
  return err instanceof CliError ? err.exitCode : ExitCode.FAILURE;
}

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim() || '(no message)';
}

function stackWithCauses(err: Error): string {
  let out = '';
  let current: unknown = err;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    out += `${depth === 0 ? '' : 'Caused by: '}${current.stack ?? `${current.name}: ${current.message}`}\n`;
    current = current.cause;
  }
  return out;
}

/** Remove every known secret from text bound for a terminal or log. */
function redact(ctx: RunContext, text: string): string {
  let out = text;
  for (const secret of ctx.secrets) if (secret.length > 0) out = out.split(secret).join('[redacted]');
  return out;
}
