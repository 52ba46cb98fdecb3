import { cacheClientEnv, commonEnv, dbPoolEnv, parseConfig, portEnv, positiveInt, queueConsumerEnv, serviceTokensEnv } from '@qv/config';
import { JOB_CATALOG } from '@qv/contracts';
import { llmEnv } from '@qv/llm';
import { z } from 'zod';

export const configSchema = z.object({
  ...commonEnv,
  ...llmEnv,
  ...portEnv(3002),
  ...cacheClientEnv({ timeoutMs: 2000 }),
  CACHE_WAIT_MS: positiveInt(10_000).describe('how long a cache miss waits for another worker computing the same key (single flight) before going alone'),
  /**
   * First retry delay; later ones double, with jitter (libs/queue jitteredBackoff): the catalog's 5
   * attempts of an item failing on its own wait at most 0.5 + 1 + 2 + 4 = 7.5 s in all, so it reaches
   * the dead-letter queue well within 15 s, while a provider outage is met by the breaker instead.
   */
  RETRY_BASE_DELAY_MS: positiveInt(JOB_CATALOG.enrich.backoff.delay).describe('first retry delay (doubles, with jitter, capped at 60 s)'),
  ...queueConsumerEnv({ concurrency: 8, lockMs: 30_000, stallCheckIntervalMs: 30_000, maxStalls: 1 }),
  /**
   * The circuit breaker opens on a fault of the provider, never of one item (domain/provider-breaker.ts):
   * at least BREAKER_THRESHOLD failed calls (5xx, timeouts, network) in the last BREAKER_WINDOW_MS,
   * and of the last BREAKER_WINDOW_ITEMS items called (each by its latest outcome) at least
   * BREAKER_MIN_ITEMS failing, of BREAKER_MIN_USERS distinct users, and at least
   * BREAKER_FAILURE_RATIO of them. It lets a trial call through after BREAKER_HALF_OPEN_MS.
   * A single-tenant deployment sets BREAKER_MIN_USERS=1.
   */
  BREAKER_THRESHOLD: positiveInt(5).describe('the circuit may open only with this many failed LLM calls (5xx, timeouts, network) in `BREAKER_WINDOW_MS`'),
  BREAKER_MIN_ITEMS: positiveInt(3).describe('…and only with this many of the last `BREAKER_WINDOW_ITEMS` items called failing'),
  BREAKER_MIN_USERS: positiveInt(2).describe('…of this many distinct users (a single-tenant deployment sets `BREAKER_MIN_USERS=1`)'),
  BREAKER_FAILURE_RATIO: z.coerce.number().gt(0).max(1).default(0.5).describe('…and this share of those items failing'),
  BREAKER_WINDOW_ITEMS: positiveInt(10).describe('the items called last, each by its latest outcome, that `BREAKER_MIN_ITEMS`, `BREAKER_MIN_USERS` and `BREAKER_FAILURE_RATIO` count in'),
  BREAKER_WINDOW_MS: positiveInt(20_000).describe('the window of `BREAKER_THRESHOLD`'),
  BREAKER_HALF_OPEN_MS: positiveInt(10_000).describe('how long the open circuit holds the queue before a trial call'),
  DEAD_LETTER_SWEEP_MS: positiveInt(5_000).describe('period of the sweep of failed jobs that never reached the dead-letter queue (stalls, crashes)'),
  ...dbPoolEnv(10),
  ...serviceTokensEnv('SERVICE_TOKEN_WORKER', 'SERVICE_TOKEN_METRICS'),
});
export type Config = z.infer<typeof configSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfig(configSchema, env, { requiredInProduction: ['SERVICE_TOKEN_WORKER', 'SERVICE_TOKEN_METRICS'] });
}
