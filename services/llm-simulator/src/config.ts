import { commonEnv, parseConfig, portEnv } from '@qv/config';
import { z } from 'zod';

/** The common variables but PostgreSQL's and Redis's: the simulator keeps no state. */
export const configSchema = z.object({
  NODE_ENV: commonEnv.NODE_ENV,
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  OTEL_EXPORTER_OTLP_ENDPOINT: commonEnv.OTEL_EXPORTER_OTLP_ENDPOINT,
  SHUTDOWN_TIMEOUT_MS: commonEnv.SHUTDOWN_TIMEOUT_MS,
  HOST: commonEnv.HOST,
  HEAP_GROWTH_PERCENT: commonEnv.HEAP_GROWTH_PERCENT,
  ...portEnv(3005),
  SIM_LATENCY_MS: z.coerce.number().int().min(0).default(0).describe("added to every call, before any directive latency: a model's base response time"),
  SIM_MODEL: z.string().min(1).default('sim-1').describe('the model it lists and answers as when a request names none'),
});
export type Config = z.infer<typeof configSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfig(configSchema, env);
}
