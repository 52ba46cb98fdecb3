import { createLogger, createMetricsRegistry, startTelemetry, stopTelemetry } from '@qv/telemetry';
startTelemetry('quota-service');

import { announceReady, limitHeapGrowth, listen, onShutdown, AUTHENTICATED_CALLERS, ServiceAuthenticator } from '@qv/http';
import { createPool } from '@qv/db/sql';
import { createApp } from './app';
import { loadConfig, withStatementTimeout } from './config';

async function main(): Promise<void> {
  const config = loadConfig();
  limitHeapGrowth(config.HEAP_GROWTH_PERCENT);
  const logger = createLogger('quota-service', config.LOG_LEVEL);
  const metrics = createMetricsRegistry('quota-service');
  // One node-postgres pool for the process, and no ORM: every route is a statement or two of
  // prisma/functions (Prisma's client layer cost a measurable share of this process's CPU, see
  // libs/quota/README.md). statement_timeout bounds a charge, its wait for the user's lock included.
  const pool = createPool({ connectionString: withStatementTimeout(config.DATABASE_URL, config.DB_STATEMENT_TIMEOUT_MS), max: config.DB_POOL_SIZE });
  // An idle connection's error (PostgreSQL restarted) is emitted on the pool: unheard, it kills the
  // process. The pool has already dropped that client and opens a new one on the next query.
  pool.on('error', (err) => logger.warn({ err: err.message }, 'idle database connection error'));

  const { app, before } = createApp({
    db: pool,
    logger,
    metrics,
    reservationTtlSeconds: config.RESERVATION_TTL_SECONDS,
    serviceAuth: ServiceAuthenticator.fromConfig(config, AUTHENTICATED_CALLERS['quota-service']),
    chargeAdmission: { maxActive: config.CHARGE_ADMISSION_ACTIVE, maxQueued: config.CHARGE_ADMISSION_QUEUE, maxWaitMs: config.CHARGE_ADMISSION_WAIT_MS },
    chargeBatching: { maxBatch: config.CHARGE_BATCH_MAX, maxInFlight: config.CHARGE_BATCHES_IN_FLIGHT },
    readiness: [{ name: 'postgres', check: () => pool.query('SELECT 1') }],
  });
  const server = await listen(app, config.PORT, config.HOST, { before });
  logger.info({ port: server.port, poolSize: config.DB_POOL_SIZE }, 'quota-service listening');

  onShutdown(
    async () => {
      await server.close();
      await pool.end();
      await stopTelemetry();
    },
    logger,
    config.SHUTDOWN_TIMEOUT_MS,
  );
  // Only once SIGTERM is handled: a stop right after `ready` must still be graceful.
  announceReady('quota-service', server.port);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
