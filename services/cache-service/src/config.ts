import { commonEnv, dbPoolEnv, parseConfig, port, positiveInt, serviceToken } from '@qv/config';
import { z } from 'zod';

export const configSchema = z.object({
  ...commonEnv,
  PORT: port(3003),
  /** How long a single-flight lease lives if its holder neither puts nor releases (crashed). */
  SINGLE_FLIGHT_LEASE_MS: positiveInt(30_000),
  /** Longest a lookup waits for another holder's result; requests may ask for less. */
  SINGLE_FLIGHT_WAIT_MS: positiveInt(10_000),
  /** Period of the job that deletes expired ai_cache rows. */
  CACHE_CLEANUP_INTERVAL_MS: positiveInt(60_000),
  ...dbPoolEnv(10),
  /** Credentials this service authenticates (SECURITY.md): api-service operates the cache, the worker reads and fills it, the scraper reads /metrics. */
  SERVICE_TOKEN_API: serviceToken(),
  SERVICE_TOKEN_WORKER: serviceToken(),
  SERVICE_TOKEN_METRICS: serviceToken(),
});
export type Config = z.infer<typeof configSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfig(configSchema, env, { requiredInProduction: ['SERVICE_TOKEN_API', 'SERVICE_TOKEN_WORKER', 'SERVICE_TOKEN_METRICS'] });
}
