import { ledgerApplyEnv, commonEnv, dbPoolEnv, dbStatementTimeoutEnv, parseConfig, portEnv, positiveInt, queueConsumerEnv, serviceTokensEnv } from '@qv/config';
import { z } from 'zod';

export const configSchema = z.object({
  ...commonEnv,
  ...portEnv(3004),
  SWEEP_INTERVAL_MS: positiveInt(10_000).describe('period of the sweep that expires unsettled reservations and voids orphans'),
  ORPHAN_GRACE_SECONDS: positiveInt(300).describe('a reservation whose item never got stored (or whose dead-letter replay charged and never ran) is voided (refunded) after this'),
  RECONCILE_INTERVAL_MS: positiveInt(60_000).describe('how often drift is recomputed for the `ledger_drift_tokens` metric and the log, and the settlements above their estimate for `ledger_settled_above_estimate` / `ledger_tokens_above_estimate`'),
  ...dbPoolEnv(10),
  /** An event's apply is one statement; 10 s bounds it and its wait for the reservation's row lock. */
  ...dbStatementTimeoutEnv(10_000),
  /** A crashed consumer's events go to another; re-applying one is always safe (jobs/usage-events.worker.ts). */
  ...queueConsumerEnv({ concurrency: 16, lockMs: 30_000, stallCheckIntervalMs: 15_000, maxStalls: 5 }),
  ...ledgerApplyEnv(),
  // It calls no other service: only the scraper's credential, for /metrics.
  ...serviceTokensEnv('SERVICE_TOKEN_METRICS'),
});
export type Config = z.infer<typeof configSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfig(configSchema, env, { requiredInProduction: ['SERVICE_TOKEN_METRICS'] });
}
