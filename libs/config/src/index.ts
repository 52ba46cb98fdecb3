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

/** A TCP port; `0` asks the OS for a free one (tests do that). */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** A positive integer of milliseconds, seconds or items. */
export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** "true"/"1"/"yes" and "false"/"0"/"no"; anything else is an error rather than a silent false. */
export const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const url = (fallback: string) => z.url().default(fallback);

/**
 * A service credential (libs/http service-auth): 32 to 512 visible ASCII characters but a comma;
 * during a rotation two of them, `new,old` (servers accept both, callers send the first). Optional
 * in the schema; list it in `requiredInProduction`. Unset outside production, its caller is refused.
 */
export const serviceToken = () =>
  z
    .string()
    .regex(
      /^[\x21-\x2b\x2d-\x7e]{32,512}(,[\x21-\x2b\x2d-\x7e]{32,512})?$/,
      'a service credential is 32 to 512 visible ASCII characters without a comma (e.g. `openssl rand -base64 32`), or two of them during a rotation: `new,old`',
    )
    .optional();

/** Variables every service reads. */
export const commonEnv = {
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: url('postgresql://postgres@127.0.0.1:5432/quota_vault'),
  REDIS_URL: url('redis://127.0.0.1:6379'),
  /** Prefix of every Redis key and BullMQ queue; tests give each file its own. */
  REDIS_PREFIX: z.string().min(1).default('qv'),
  /** Where spans go; unset keeps tracing in-process (spans still carry ids into the logs). */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  SHUTDOWN_TIMEOUT_MS: positiveInt(10_000),
  /** Interface the HTTP server binds (read by libs/http `listen`); 0.0.0.0 in containers. */
  HOST: z.string().min(1).default('127.0.0.1'),
};

export const commonConfig = z.object(commonEnv);
export type CommonConfig = z.infer<typeof commonConfig>;
