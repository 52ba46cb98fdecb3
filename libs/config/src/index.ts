import { z } from 'zod';

/** Thrown when the environment does not parse; the message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses `env` with a zod object whose keys are variable names. Every variable has a default that
 * works on a local machine; a bad value fails with a message naming the variable and the reason.
 */
export function parseConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.');
    const value = env[name];
    return `${name}: ${issue.message}${value === undefined ? '' : ` (got ${JSON.stringify(value)})`}`;
  });
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
