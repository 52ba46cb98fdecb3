import { cacheDurabilityEnv, cacheTimeoutEnv, commonEnv, dbPoolEnv, ledgerApplyEnv, parseConfig, portEnv, positiveInt, queueConsumerEnv, serviceTokensEnv, singleFlightLeaseEnv } from '@qv/config';
import { JOB_CATALOG } from '@qv/contracts';
import { breakerEnv, llmEnv } from '@qv/llm';
import { z } from 'zod';

export const configSchema = z.object({
  ...commonEnv,
  ...llmEnv,
  ...portEnv(3002),
  ...cacheTimeoutEnv({ timeoutMs: 2000 }),
  ...singleFlightLeaseEnv,
  ...cacheDurabilityEnv,
  CACHE_WAIT_MS: positiveInt(10_000).describe('how long a cache miss waits for another worker computing the same key (single flight) before going alone'),
  /**
   * First retry delay; later ones double, with jitter (libs/queue jitteredBackoff): the catalog's 5
   * attempts of an item failing on its own wait at most 0.5 + 1 + 2 + 4 = 7.5 s in all, so it reaches
   * the dead-letter queue well within 15 s, while a provider outage is met by the breaker instead.
   */
  RETRY_BASE_DELAY_MS: positiveInt(JOB_CATALOG.enrich.backoff.delay).describe('first retry delay (doubles, with jitter, capped at 60 s)'),
  ...queueConsumerEnv({ concurrency: 8, lockMs: 30_000, stallCheckIntervalMs: 30_000, maxStalls: 1 }),
  ...breakerEnv,
  DEAD_LETTER_SWEEP_MS: positiveInt(5_000).describe('period of the sweep of failed jobs that never reached the dead-letter queue (stalls, crashes)'),
  ...dbPoolEnv(10),
  ...ledgerApplyEnv(),
  ...serviceTokensEnv('SERVICE_TOKEN_WORKER', 'SERVICE_TOKEN_METRICS'),
});
export type Config = z.infer<typeof configSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfig(configSchema, env, { requiredInProduction: ['SERVICE_TOKEN_WORKER', 'SERVICE_TOKEN_METRICS'] });
}
