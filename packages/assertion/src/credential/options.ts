import type { z } from 'zod';
import { CredentialError } from '../errors.js';

/**
 * Validate options with a zod schema. On failure, throw `ERR_INVALID_OPTIONS`
 * naming each bad field and what was expected — never the value given, which
 * may be a passphrase.
 *
 * @throws {@link CredentialError} `ERR_INVALID_OPTIONS`
 */
export function parseOptions<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value, { errorMap: withoutValues });
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new CredentialError('ERR_INVALID_OPTIONS', `Invalid ${what}: ${problems}.`);
}

/** zod's messages, except the one that quotes the value received (an enum mismatch). */
const withoutValues: z.ZodErrorMap = (issue, ctx) =>
  issue.code === 'invalid_enum_value' ? { message: `expected one of ${issue.options.join(', ')}` } : { message: ctx.defaultError };
