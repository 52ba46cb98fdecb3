import { commonEnv, parseConfig, port, positiveInt } from '@qv/config';
import { z } from 'zod';

const QuotaServiceEnv = z.object({
  ...commonEnv,
  PORT: port(3001),
  /** How long a reservation may stay in flight before the sweeper expires it (seconds). */
  RESERVATION_TTL_SECONDS: positiveInt(900),
  /** PostgreSQL connections of this process; every charge holds one for its transaction. */
  DB_POOL_SIZE: positiveInt(20),
  /** Upper bound on waiting for a connection and on the charge transaction (ms). */
  CHARGE_TIMEOUT_MS: positiveInt(5_000),
});
export type QuotaServiceConfig = z.infer<typeof QuotaServiceEnv>;

export function loadQuotaServiceConfig(env: NodeJS.ProcessEnv = process.env): QuotaServiceConfig {
  return parseConfig(QuotaServiceEnv, env);
}
