import { z } from 'zod';
import { positiveInt, url } from './fields';

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
