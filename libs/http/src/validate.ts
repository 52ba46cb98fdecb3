import { ValidationError } from '@qv/contracts';
import type { z } from 'zod';

/** Parses input at an edge; a failure is 400 VALIDATION_FAILED carrying the zod issues. */
export function parseOr400<S extends z.ZodType>(schema: S, input: unknown, what = 'request body'): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({ path: i.path.map(String), code: i.code, message: i.message }));
    throw new ValidationError(`Invalid ${what}`, issues);
  }
  return result.data;
}
