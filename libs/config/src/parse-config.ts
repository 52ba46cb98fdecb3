import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Thrown when the environment does not parse; the message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface ParseConfigOptions<S extends z.ZodObject> {
  /**
   * Variables that must be set when NODE_ENV=production, though optional elsewhere: the service
   * credentials, so a deployment never starts with a caller that cannot authenticate.
   */
  requiredInProduction?: readonly (keyof z.infer<S> & string)[];
}

/** Values never echoed in a config error: credentials and keys. */
const SECRET_NAME = /(TOKEN|KEY|SECRET|PASSWORD)(_|$)/;

/**
 * Parses `env` with a zod object whose keys are variable names. Every variable has a default that
 * works on a local machine; a bad value fails with a message naming the variable and the reason
 * (the value itself is not shown for credentials and keys).
 *
 * Any variable `X` of the schema may instead be given as `X_FILE`, the path of a file holding its
 * value (one trailing newline dropped): how docker-compose and Kubernetes secrets arrive, as files
 * under /run/secrets. Setting both is an error.
 */
export function parseConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env, options: ParseConfigOptions<S> = {}): z.infer<S> {
  const problems: string[] = [];
  const resolved: NodeJS.ProcessEnv = { ...env };
  for (const name of Object.keys(schema.shape)) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file === '') continue;
    if (env[name] !== undefined) {
      problems.push(`${name}: set either ${name} or ${name}_FILE, not both`);
      continue;
    }
    try {
      resolved[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(`${name}_FILE: cannot read ${JSON.stringify(file)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  if (resolved.NODE_ENV === 'production') {
    for (const name of options.requiredInProduction ?? []) {
      if (!resolved[name]) problems.push(`${name}: required when NODE_ENV=production (or ${name}_FILE); see SECURITY.md`);
    }
  }
  const result = schema.safeParse(resolved);
  if (result.success && problems.length === 0) return result.data;
  for (const issue of result.error?.issues ?? []) {
    const name = issue.path.join('.');
    const value = resolved[name];
    const got = value === undefined ? '' : SECRET_NAME.test(name) ? ` (got ${value.length} characters)` : ` (got ${JSON.stringify(value)})`;
    problems.push(`${name}: ${issue.message}${got}`);
  }
  throw new ConfigError(problems);
}
