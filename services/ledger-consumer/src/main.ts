import { Counter, createLogger, createMetricsRegistry, Gauge, startTelemetry } from '@qv/telemetry';
startTelemetry('ledger-consumer');

import { createPrisma } from '@qv/db';
import { announceReady, onShutdown, serveOperations } from '@qv/http';
import { bullPrefix, createRedis } from '@qv/queue';
import { startSweeper } from '@qv/quota';
import { loadLedgerConfig } from './config';
import { startReconcileJob } from './jobs/reconcile.job';
import { startUsageEventsWorker } from './jobs/usage-events.worker';

async function main(): Promise<void> {
  const config = loadLedgerConfig();
  const logger = createLogger('ledger-consumer', config.LOG_LEVEL);
  const metrics = createMetricsRegistry('ledger-consumer');
  const prisma = createPrisma(config.DATABASE_URL, { poolSize: config.DB_POOL_SIZE });
  const redis = createRedis(config.REDIS_URL);
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));

  const worker = startUsageEventsWorker({
    prisma,
    connection: redis,
    prefix: bullPrefix(config.REDIS_PREFIX),
    logger,
    applied: new Counter({ name: 'ledger_events_total', help: 'Usage events by type and outcome (applied, duplicate, deferred)', labelNames: ['type', 'outcome'], registers: [metrics] }),
    options: {
      concurrency: config.LEDGER_CONCURRENCY,
      lockDurationMs: config.LEDGER_LOCK_DURATION_MS,
      stalledIntervalMs: config.LEDGER_STALLED_INTERVAL_MS,
      maxStalledCount: config.LEDGER_MAX_STALLED_COUNT,
    },
  });
  const stopSweeper = startSweeper({ db: prisma, intervalMs: config.SWEEP_INTERVAL_MS, orphanGraceSeconds: config.ORPHAN_GRACE_SECONDS, logger });
  const stopReconcile = startReconcileJob({
    prisma,
    intervalMs: config.RECONCILE_INTERVAL_MS,
    logger,
    drift: new Gauge({ name: 'ledger_drift_tokens', help: 'Token drift between counters, reservations and the ledger (expected 0)', labelNames: ['day'], registers: [metrics] }),
  });

  const server = await serveOperations({
    port: config.PORT,
    service: 'ledger-consumer',
    logger,
    metrics,
    readiness: [
      { name: 'postgres', check: () => prisma.$queryRaw`SELECT 1` },
      { name: 'redis', check: () => redis.ping() },
    ],
  });

  onShutdown(async () => {
    stopReconcile();
    await stopSweeper();
    await worker.close();
    await server.close();
    redis.disconnect();
    await prisma.$disconnect();
  }, logger, config.SHUTDOWN_TIMEOUT_MS);
  // Only once SIGTERM is handled: a stop right after `ready` must still be graceful.
  announceReady('ledger-consumer', server.port);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
