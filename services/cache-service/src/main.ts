import { startTelemetry, stopTelemetry } from '@qv/telemetry';
startTelemetry('cache-service');

import { once } from 'node:events';
import { createPool } from '@qv/db/sql';
import { announceReady, limitHeapGrowth, listen, onShutdown, AUTHENTICATED_CALLERS, ServiceAuthenticator, withTimeout } from '@qv/http';
import { createFastRedis, type Redis } from '@qv/queue';
import { createLogger, createMetricsRegistry } from '@qv/telemetry';
import { createApp } from './app';
import { CacheKeyspace, CacheMetrics, CacheService, EntryEvents, PgCacheRepository, RedisCacheRepository } from '@qv/cache';
import { loadConfig } from './config';
import { scheduleCleanup } from './jobs/cleanup.job';

async function ready(redis: Redis, ms: number): Promise<void> {
  if (redis.status !== 'ready') await withTimeout(once(redis, 'ready'), ms);
}

async function main(): Promise<void> {
  const config = loadConfig();
  limitHeapGrowth(config.HEAP_GROWTH_PERCENT);
  const logger = createLogger('cache-service', config.LOG_LEVEL);
  const registry = createMetricsRegistry('cache-service');

  const pool = createPool({ connectionString: config.DATABASE_URL, max: config.DB_POOL_SIZE });
  pool.on('error', (err) => logger.warn({ err: err.message }, 'idle PostgreSQL connection failed'));
  // Auto-pipelining batches the concurrent GETs of many requests into one write: the hot path is one Redis round trip.
  const redis = createFastRedis(config.REDIS_URL, { enableAutoPipelining: true });
  const subscriber = createFastRedis(config.REDIS_URL, { commandTimeout: undefined });
  for (const conn of [redis, subscriber]) conn.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  // Without Redis nothing works (no leases, no counters): refuse to start, the supervisor retries.
  await Promise.all([ready(redis, 10_000), ready(subscriber, 10_000)]);

  const keys = new CacheKeyspace(config.REDIS_PREFIX);
  const events = new EntryEvents(subscriber, keys.eventsChannel);
  await events.start();
  const metrics = new CacheMetrics(registry, () => events.waiting);
  const redisRepo = new RedisCacheRepository(redis, keys);
  const pgRepo = new PgCacheRepository(pool);
  const cache = new CacheService({ keys, redis: redisRepo, pg: pgRepo, events, metrics, logger, leaseMs: config.SINGLE_FLIGHT_LEASE_MS, maxWaitMs: config.SINGLE_FLIGHT_WAIT_MS, durableTiers: config.CACHE_DURABLE_TIERS, entryCountMaxAgeMs: config.CACHE_ENTRY_COUNT_MAX_AGE_MS });

  // Warming is an optimisation, not a precondition: until Redis is complete, a miss falls back to
  // PostgreSQL. Redis comes back empty after a restart (its connection drops and is ready again).
  const warmIfIncomplete = async () => {
    try {
      const warmed = await cache.warmIfIncomplete();
      if (warmed !== null) logger.info({ warmed }, 'every live entry warmed into Redis');
    } catch (err) {
      logger.warn({ err }, 'warming Redis failed; entries will come from PostgreSQL on demand');
    }
  };
  await warmIfIncomplete();
  redis.on('ready', () => void warmIfIncomplete());

  const { app, before } = createApp({
    cache,
    logger,
    metrics: registry,
    serviceAuth: ServiceAuthenticator.fromConfig(config, AUTHENTICATED_CALLERS['cache-service']),
    readiness: [
      { name: 'redis', check: () => redisRepo.ping() },
      { name: 'postgres', check: () => pgRepo.ping() },
    ],
  });
  const server = await listen(app, config.PORT, config.HOST, { before });
  const stopCleanup = scheduleCleanup(() => cache.cleanup(), config.CACHE_CLEANUP_INTERVAL_MS, logger);
  logger.info({ port: server.port }, 'cache-service listening');

  onShutdown(
    async () => {
      await stopCleanup();
      // Waiting lookups answer wait_timeout at once, so the HTTP server can drain.
      await events.close();
      await server.close();
      await Promise.allSettled([redis.quit(), pool.end()]);
      await stopTelemetry();
    },
    logger,
    config.SHUTDOWN_TIMEOUT_MS,
  );
  // Only once SIGTERM is handled: a stop right after `ready` must still be graceful.
  announceReady('cache-service', server.port);
}

main().catch((err) => {
  process.stderr.write(`cache-service failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
