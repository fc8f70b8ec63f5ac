import { createRequire } from 'node:module';
import type { z, ZodType } from 'zod';
import { CredentialError } from '../errors.js';

type Zod = typeof z;

const requireModule = createRequire(import.meta.url);
let zod: Zod | undefined;

/**
 * A zod schema built on its first use, with zod loaded then (synchronously:
 * zod ships CommonJS too). Loading zod is a large part of a cold start that
 * never validates options (a thumbprint of a PEM certificate), so it waits
 * for the first call that does.
 */
export function lazySchema<S extends ZodType>(build: (z: Zod) => S): () => S {
  let schema: S | undefined;
  return () => (schema ??= build((zod ??= (requireModule('zod') as { z: Zod }).z)));
}

/**
 * Validate options with a zod schema (from {@link lazySchema}). On failure,
 * throw `ERR_INVALID_OPTIONS` naming each bad field and what was expected —
 * never the value given, which may be a passphrase.
 *
 * @throws {@link CredentialError} `ERR_INVALID_OPTIONS`
 */
export function parseOptions<S extends ZodType>(schema: () => S, value: unknown, what: string): z.output<S> {
  const result = schema().safeParse(value, { errorMap: withoutValues });
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new CredentialError('ERR_INVALID_OPTIONS', `Invalid ${what}: ${problems}.`);
}

/** zod's messages, except the one that quotes the value received (an enum mismatch). */
const withoutValues: z.ZodErrorMap = (issue, ctx) =>
  issue.code === 'invalid_enum_value' ? { message: `expected one of ${issue.options.join(', ')}` } : { message: ctx.defaultError };
