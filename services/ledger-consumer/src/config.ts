import { commonEnv, dbPoolEnv, dbStatementTimeoutEnv, parseConfig, port, positiveInt, queueConsumerEnv, serviceToken } from '@qv/config';
import { z } from 'zod';

export const configSchema = z.object({
  ...commonEnv,
  PORT: port(3004),
  /** How often unsettled reservations are expired and orphans voided. */
  SWEEP_INTERVAL_MS: positiveInt(10_000),
  /** A reservation whose item never got stored is voided after this long. */
  ORPHAN_GRACE_SECONDS: positiveInt(300),
  /** How often drift is recomputed for the metric and the log. */
  RECONCILE_INTERVAL_MS: positiveInt(60_000),
  ...dbPoolEnv(10),
  /** An event's apply is one statement; 10 s bounds it and its wait for the reservation's row lock. */
  ...dbStatementTimeoutEnv(10_000),
  /** Usage events: many small statements at once; a crashed consumer's go to another (jobs/usage-events.worker.ts). */
  ...queueConsumerEnv({ concurrency: 16, lockMs: 30_000, stallCheckIntervalMs: 15_000, maxStalls: 5 }),
  /** The scraper's credential, needed for /metrics on this operations port (this service calls no other). */
  SERVICE_TOKEN_METRICS: serviceToken(),
});
export type Config = z.infer<typeof configSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfig(configSchema, env, { requiredInProduction: ['SERVICE_TOKEN_METRICS'] });
}
