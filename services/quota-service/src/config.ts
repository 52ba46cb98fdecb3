import { commonEnv, dbPoolEnv, dbStatementTimeoutEnv, parseConfig, portEnv, positiveInt, serviceTokensEnv } from '@qv/config';
import { z } from 'zod';

export const configSchema = z.object({
  ...commonEnv,
  ...portEnv(3001),
  RESERVATION_TTL_SECONDS: positiveInt(900).describe('an unsettled reservation is expired by the sweeper after this (its slot freed, charged as estimated)'),
  ...dbPoolEnv(20),
  /** Bounds a charge, its wait for the user's lock included. */
  ...dbStatementTimeoutEnv(5_000),
  CHARGE_ADMISSION_ACTIVE: positiveInt(2).describe("charges of one user decided at once by each process (they serialise on the user's lock anyway)"),
  CHARGE_ADMISSION_QUEUE: positiveInt(64).describe('charges of one user allowed to wait for those; one more is `429 USER_REQUEST_RATE_EXCEEDED` at once'),
  CHARGE_ADMISSION_WAIT_MS: positiveInt(1000).describe("longest wait of a charge in its user's line before `429 USER_REQUEST_RATE_EXCEEDED` (below api-service's `QUOTA_TIMEOUT_MS`)"),
  CHARGE_BATCH_MAX: z.coerce.number().int().min(1).max(64).default(64).describe('most single charges (`POST /internal/charges`) that arrive together decided as one statement and one commit (each user in at most one at a time); `1` decides each alone'),
  CHARGE_BATCHES_IN_FLIGHT: positiveInt(4).describe('such statements running at once; what arrives meanwhile gathers into the next (keep it below `DB_POOL_SIZE`)'),
  // The worker's credential is known only to be refused (403).
  ...serviceTokensEnv('SERVICE_TOKEN_API', 'SERVICE_TOKEN_METRICS', 'SERVICE_TOKEN_WORKER'),
});
export type Config = z.infer<typeof configSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfig(configSchema, env, { requiredInProduction: ['SERVICE_TOKEN_API', 'SERVICE_TOKEN_METRICS'] });
}

/** The URL with `-c statement_timeout=<ms>` added to its libpq `options` (node-postgres reads them). */
export function withStatementTimeout(url: string, ms: number): string {
  const parsed = new URL(url);
  const options = parsed.searchParams.get('options');
  parsed.searchParams.set('options', `${options ? `${options} ` : ''}-c statement_timeout=${ms}`);
  return parsed.toString();
}
