import { z } from 'zod';
import { positiveInt } from './fields';

/** PostgreSQL connections of a service that has a pool; each service keeps its own default. */
export const dbPoolEnv = (poolSize: number) => ({
  DB_POOL_SIZE: positiveInt(poolSize).describe('PostgreSQL connections per process (in quota-service every charge holds one for its statement)'),
});

/**
 * `statement_timeout` of a service's PostgreSQL connections, for the services whose statements
 * wait on row locks (quota-service's charges, ledger-consumer's applies).
 */
export const dbStatementTimeoutEnv = (ms: number) => ({
  DB_STATEMENT_TIMEOUT_MS: positiveInt(ms).describe(
    "PostgreSQL `statement_timeout` of the process's connections: bounds a charge (quota-service) or an event's apply (ledger-consumer), its wait for the user's or the reservation's lock included",
  ),
});

/**
 * Group commit of usage events into the ledger, for the processes that apply them: where they arise
 * (api-service's chat calls, the worker's items, settled as they end) and ledger-consumer (the
 * queue's events, those that could not be applied there).
 */
export const ledgerApplyEnv = () => ({
  APPLY_BATCH_MAX: z.coerce
    .number()
    .int()
    .min(1)
    .max(256)
    .default(64)
    .describe('most usage events applied to the ledger together in one statement and one commit (api-service: chat calls ending together; enrichment-worker: items ending together; ledger-consumer: the queued events being processed at once, at most `QUEUE_CONCURRENCY`); `1` applies each alone'),
  APPLY_BATCHES_IN_FLIGHT: positiveInt(2).describe('such statements running at once per process; events that arrive meanwhile gather into the next (keep it below `DB_POOL_SIZE`)'),
});
