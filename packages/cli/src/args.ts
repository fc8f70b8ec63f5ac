/**
 * Shared command-line handling: the command shape, `node:util` `parseArgs`
 * with usage errors, typed option getters, and passphrase sources
 * (`--passphrase-env`, `--passphrase-file`, a no-echo prompt on a TTY).
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError, CliError } from './errors.js';
import { promptSecret, type Io } from './io.js';

/** Option definitions in `node:util` `parseArgs` form. */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Parsed option values, keyed by long option name. */
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** One run of the CLI: streams, flags shared by every command, secrets to keep out of output. */
export interface RunContext {
  readonly io: Io;
  /** `--debug`: print stack traces of errors. */
  debug: boolean;
  /** Values (passphrases) that must never be printed; error output is scrubbed of them. */
  readonly secrets: Set<string>;
}

/** What a command receives after its command line has been parsed. */
export interface CommandInput {
  readonly ctx: RunContext;
  readonly values: OptionValues;
  readonly positionals: string[];
}

/** A subcommand: its options, usage, help text and implementation. */
export interface Command {
  readonly name: string;
  /** The usage line, printed after a usage error. */
  readonly usage: string;
  /** The full `--help` text (without the usage line). */
  readonly help: string;
  readonly options: OptionSpec;
  /** Positional arguments: minimum count and maximum count (`Infinity` for any). */
  readonly positionals: { readonly min: number; readonly max: number; readonly names: string };
  /** Runs the command; resolves to the exit status. */
  run(input: CommandInput): Promise<number>;
}

/** Options every command accepts. */
export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  debug: { type: 'boolean' },
} as const satisfies OptionSpec;

/** Options of commands that may open an encrypted container (a PFX, an encrypted key). */
export const PASSPHRASE_OPTIONS = {
  'passphrase-env': { type: 'string' },
  'passphrase-file': { type: 'string' },
  'require-integrity': { type: 'boolean' },
} as const satisfies OptionSpec;

/** Help lines describing {@link PASSPHRASE_OPTIONS}. */
export const PASSPHRASE_HELP = `  --passphrase-env <NAME>   read the PFX / key passphrase from environment variable NAME
  --passphrase-file <path>  read the passphrase from a file (one trailing newline is dropped)
                            Without either, a passphrase is prompted for (no echo) when stdin
                            is a terminal, and never otherwise. Passphrases are never accepted
                            as command-line arguments.
  --require-integrity       refuse a PFX without a MAC (ERR_NO_INTEGRITY); without it,
                            such a file loads with a warning on stderr`;

/**
 * Parse a command's arguments strictly.
 *
 * @throws {@link UsageError} for unknown options, missing option values and a wrong number of positionals
 */
export function parseCommandLine(command: Command, argv: string[]): { values: OptionValues; positionals: string[] } {
  const secretFlag = argv.find((a) => /^--?(passphrase|password|pass)(=|$)/i.test(a));
  if (secretFlag !== undefined) {
    const name = secretFlag.split('=')[0]!;
    throw new UsageError(`${name} is not accepted: passphrases never go on the command line. Use --passphrase-env <NAME> or --passphrase-file <path>.`, command.usage);
  }
  let parsed: { values: OptionValues; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...command.options }, allowPositionals: true, strict: true }) as {
      values: OptionValues;
      positionals: string[];
    };
  } catch (e) {
    throw new UsageError(firstLine((e as Error).message), command.usage);
  }
  if (parsed.values.help) return parsed;
  const n = parsed.positionals.length;
  if (n < command.positionals.min) throw new UsageError(`Missing ${command.positionals.names}.`, command.usage);
  if (n > command.positionals.max) {
    // Not echoed: an extra argument is often a passphrase, a secret or an assertion typed in the wrong place.
    throw new UsageError(`Unexpected argument #${command.positionals.max + 1} (not shown): ${command.name} takes ${command.positionals.names}.`, command.usage);
  }
  return parsed;
}

/**
 * A command-line word for a message: shown when it looks like an option or
 * command name; otherwise (an assertion, key text, a passphrase typed in the
 * wrong place) only its length.
 */
export function shownArgument(arg: string): string {
  const name = arg.split('=')[0]!;
  return /^-{0,2}[A-Za-z][A-Za-z0-9-]{0,39}$/.test(name) ? `'${name}'` : `(${arg.length} characters, not shown)`;
}

/** A string option's value, or `undefined`. */
export function optString(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/**
 * A required string option.
 *
 * @param fallback - a value from elsewhere (an environment variable) used when the option is absent
 * @throws {@link UsageError} when neither is given
 */
export function requireString(values: OptionValues, name: string, usage: string, fallback?: string): string {
  const v = optString(values, name) ?? (fallback === '' ? undefined : fallback);
  if (v === undefined || v === '') throw new UsageError(`Missing required option --${name}.`, usage);
  return v;
}

/**
 * An option naming a token endpoint (the `aud` of a client assertion): an
 * absolute `https:` URL, or `http:` to a loopback host (`localhost`,
 * `127.0.0.0/8`, `[::1]`) for tests — the rule `@x/token` applies before it
 * sends a credential (RFC 6749 §3.2 requires TLS).
 *
 * @throws {@link UsageError} for anything else, or a URL with user info or a fragment
 */
export function optEndpointUrl(values: OptionValues, name: string, usage: string): string | undefined {
  const v = optString(values, name);
  if (v === undefined) return undefined;
  const url = URL.canParse(v) ? new URL(v) : undefined;
  const loopback = url !== undefined && (url.hostname === 'localhost' || url.hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(url.hostname));
  const ok = url !== undefined && url.username === '' && url.password === '' && url.hash === '' && (url.protocol === 'https:' || (url.protocol === 'http:' && loopback));
  if (!ok) throw new UsageError(`--${name} must be an absolute https: URL (http: only to localhost, 127.0.0.0/8 or [::1]), without user info or fragment.`, usage);
  return v;
}

/**
 * A string option restricted to a list of choices.
 *
 * @throws {@link UsageError} for any other value
 */
export function optChoice<T extends string>(values: OptionValues, name: string, choices: readonly T[], usage: string): T | undefined {
  const v = optString(values, name);
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v)) {
    throw new UsageError(`--${name} must be one of ${choices.join(', ')} (got '${v}').`, usage);
  }
  return v as T;
}

/**
 * A positive integer option.
 *
 * @param unit - what it counts, for the message
 * @throws {@link UsageError} for anything but a positive decimal integer
 */
export function optPositiveInt(values: OptionValues, name: string, usage: string, unit = 'seconds'): number | undefined {
  const v = optString(values, name);
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) {
    throw new UsageError(`--${name} must be a positive integer number of ${unit} (got '${v}').`, usage);
  }
  return Number(v);
}

/**
 * Where a passphrase comes from for one command run. `value` is what was
 * given explicitly (or `undefined`); `prompt` exists only when stdin is a
 * terminal and nothing was given, and is called only when a container turns
 * out to be encrypted. (Whether stdin is a terminal is looked at when
 * `prompt` is first read: opening stdin costs a run that needs no passphrase.)
 */
export interface PassphraseSource {
  readonly value: string | undefined;
  readonly prompt: ((label: string) => Promise<string>) | undefined;
}

/**
 * Resolve `--passphrase-env` / `--passphrase-file` (mutually exclusive), then
 * `fallbackEnv` (an environment variable name, e.g.
 * `AZURE_CLIENT_CERTIFICATE_PASSWORD`), then a TTY prompt. Every passphrase
 * obtained is registered in `ctx.secrets`.
 *
 * @throws {@link UsageError} when both options are given;
 *   {@link CliError} `ERR_PASSPHRASE_SOURCE` when the named variable is unset or the file unreadable
 */
export async function passphraseSource(
  ctx: RunContext,
  values: OptionValues,
  usage: string,
  fallbackEnv?: string,
): Promise<PassphraseSource> {
  const envName = optString(values, 'passphrase-env');
  const file = optString(values, 'passphrase-file');
  if (envName !== undefined && file !== undefined) {
    throw new UsageError('Give --passphrase-env or --passphrase-file, not both.', usage);
  }
  const keep = (p: string): string => {
    if (p !== '') ctx.secrets.add(p);
    return p;
  };
  if (envName !== undefined) {
    const v = ctx.io.env[envName];
    if (v === undefined) throw new CliError('ERR_PASSPHRASE_SOURCE', `Environment variable ${envName} (--passphrase-env) is not set.`);
    return { value: keep(v), prompt: undefined };
  }
  if (file !== undefined) {
    let text: string;
    try {
      const { readPassphraseFile } = await import('@x/assertion');
      text = await readPassphraseFile(file);
    } catch (e) {
      throw new CliError('ERR_PASSPHRASE_SOURCE', `--passphrase-file: ${(e as Error).message}`);
    }
    return { value: keep(text), prompt: undefined };
  }
  const fromEnv = fallbackEnv === undefined ? undefined : ctx.io.env[fallbackEnv];
  if (fromEnv !== undefined && fromEnv !== '') return { value: keep(fromEnv), prompt: undefined };
  const prompt = async (label: string) => keep(await promptSecret(ctx.io, `Passphrase for ${label}: `));
  return {
    value: undefined,
    get prompt() {
      return ctx.io.stdin.isTTY ? prompt : undefined;
    },
  };
}

/** The first sentence of a `parseArgs` error, without its hint about `--`. */
function firstLine(s: string): string {
  return s.split('\n')[0]!.replace(/ To specify a positional argument.*$/, '').trim();
}
