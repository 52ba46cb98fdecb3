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
