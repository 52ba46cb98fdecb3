import { createLogger, createMetricsRegistry, Gauge, registerDependencyGauge, startTelemetry, stopTelemetry } from '@qv/telemetry';
startTelemetry('ledger-consumer');

import { announceReady, limitHeapGrowth, onShutdown, serveOperations, AUTHENTICATED_CALLERS, ServiceAuthenticator } from '@qv/http';
import { bullPrefix, createRedis } from '@qv/queue';
import { startSweeper } from '@qv/quota';
import { createPool } from '@qv/db/sql';
import { loadConfig } from './config';
import { startReconcileJob } from './jobs/reconcile.job';
import { startUsageEventsWorker } from './jobs/usage-events.worker';
import { sweepMetricsLogger } from './domain/ledger-metrics';
import { settledUsageCounter } from '@qv/ledger';

async function main(): Promise<void> {
  const config = loadConfig();
  limitHeapGrowth(config.HEAP_GROWTH_PERCENT);
  const logger = createLogger('ledger-consumer', config.LOG_LEVEL);
  const metrics = createMetricsRegistry('ledger-consumer');
  // One pool for the process, and no Prisma client: events are applied, the sweeper sweeps and the
  // reconciliation reads with statements straight on node-postgres (libs/ledger/README.md: what
  // Prisma's client layer cost in CPU; its query compiler also held ~40 MB of this process).
  const pool = createPool({ connectionString: config.DATABASE_URL, max: config.DB_POOL_SIZE, statement_timeout: config.DB_STATEMENT_TIMEOUT_MS });
  pool.on('error', (err) => logger.warn({ err: err.message }, 'idle database connection error'));
  const redis = createRedis(config.REDIS_URL);
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));

  const worker = startUsageEventsWorker({
    db: pool,
    connection: redis,
    prefix: bullPrefix(config.REDIS_PREFIX),
    logger,
    count: settledUsageCounter(metrics),
    options: {
      concurrency: config.QUEUE_CONCURRENCY,
      lockDurationMs: config.QUEUE_LOCK_MS,
      stalledIntervalMs: config.QUEUE_STALL_CHECK_INTERVAL_MS,
      maxStalledCount: config.QUEUE_MAX_STALLS,
      batching: { maxBatch: config.APPLY_BATCH_MAX, maxInFlight: config.APPLY_BATCHES_IN_FLIGHT },
    },
  });
  registerDependencyGauge(metrics, [
    { name: 'postgres', check: () => pool.query('SELECT 1') },
    { name: 'redis', check: () => redis.ping() },
  ]);
  const stopSweeper = startSweeper({ db: pool, intervalMs: config.SWEEP_INTERVAL_MS, orphanGraceSeconds: config.ORPHAN_GRACE_SECONDS, logger: sweepMetricsLogger(metrics, logger) });
  const stopReconcile = startReconcileJob({
    db: pool,
    intervalMs: config.RECONCILE_INTERVAL_MS,
    logger,
    drift: new Gauge({ name: 'ledger_drift_tokens', help: 'Token drift between counters, reservations and the ledger (expected 0)', labelNames: ['day'], registers: [metrics] }),
    aboveEstimate: {
      reservations: new Gauge({ name: 'ledger_settled_above_estimate', help: 'Reservations settled at more tokens than they were charged, per UTC day (expected 0)', labelNames: ['day'], registers: [metrics] }),
      tokens: new Gauge({ name: 'ledger_tokens_above_estimate', help: 'Tokens settled past their reservations\' estimates, per UTC day: tokens no charge checked (expected 0)', labelNames: ['day'], registers: [metrics] }),
    },
  });

  const server = await serveOperations({
    port: config.PORT,
    host: config.HOST,
    service: 'ledger-consumer',
    logger,
    metrics,
    serviceAuth: ServiceAuthenticator.fromConfig(config, AUTHENTICATED_CALLERS['ledger-consumer']),
    readiness: [
      { name: 'postgres', check: () => pool.query('SELECT 1') },
      { name: 'redis', check: () => redis.ping() },
    ],
  });

  onShutdown(async () => {
    await stopReconcile();
    await stopSweeper();
    await worker.close();
    await server.close();
    redis.disconnect();
    await pool.end();
    await stopTelemetry();
  }, logger, config.SHUTDOWN_TIMEOUT_MS);
  // Only once SIGTERM is handled: a stop right after `ready` must still be graceful.
  announceReady('ledger-consumer', server.port);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
