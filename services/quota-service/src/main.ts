import { createLogger, createMetricsRegistry, startTelemetry } from '@qv/telemetry';
startTelemetry('quota-service');

import { createPrisma } from '@qv/db';
import { announceReady, listen, onShutdown } from '@qv/http';
import { createApp } from './app';
import { loadQuotaServiceConfig, withStatementTimeout } from './config';

async function main(): Promise<void> {
  const config = loadQuotaServiceConfig();
  const logger = createLogger('quota-service', config.LOG_LEVEL);
  const metrics = createMetricsRegistry('quota-service');
  // A charge is one statement now; the server bounds it (lock wait included), so a connection is
  // never held longer than this however long the user's lock queue grows.
  const prisma = createPrisma(withStatementTimeout(config.DATABASE_URL, config.CHARGE_TIMEOUT_MS), { poolSize: config.DB_POOL_SIZE });

  const app = createApp({
    db: prisma,
    logger,
    metrics,
    reservationTtlSeconds: config.RESERVATION_TTL_SECONDS,
    readiness: [{ name: 'postgres', check: () => prisma.$queryRaw`SELECT 1` }],
  });
  const server = await listen(app, config.PORT);
  logger.info({ port: server.port, poolSize: config.DB_POOL_SIZE }, 'quota-service listening');

  onShutdown(
    async () => {
      await server.close();
      await prisma.$disconnect();
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
