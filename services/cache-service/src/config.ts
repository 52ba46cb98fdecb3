import { cacheDurabilityEnv, commonEnv, dbPoolEnv, parseConfig, portEnv, positiveInt, serviceTokensEnv, singleFlightLeaseEnv } from '@qv/config';
import { z } from 'zod';

export const configSchema = z.object({
  ...commonEnv,
  ...portEnv(3003),
  ...singleFlightLeaseEnv,
  ...cacheDurabilityEnv,
  SINGLE_FLIGHT_WAIT_MS: positiveInt(10_000).describe("longest a lookup waits for another holder's result; a request may ask for less"),
  CACHE_CLEANUP_INTERVAL_MS: positiveInt(60_000).describe('period of the job deleting expired `ai_cache` rows'),
  CACHE_ENTRY_COUNT_MAX_AGE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(30_000)
    .describe("how old the stats' entry counts may be (a SCAN of every Redis key and a count of `ai_cache`'s live rows, which the console polls every few seconds); `0` counts at every call"),
  ...dbPoolEnv(10),
  // api-service operates the cache, the worker reads and fills it, the scraper reads /metrics.
  ...serviceTokensEnv('SERVICE_TOKEN_API', 'SERVICE_TOKEN_WORKER', 'SERVICE_TOKEN_METRICS'),
});
export type Config = z.infer<typeof configSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfig(configSchema, env, { requiredInProduction: ['SERVICE_TOKEN_API', 'SERVICE_TOKEN_WORKER', 'SERVICE_TOKEN_METRICS'] });
}
