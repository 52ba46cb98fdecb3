import { createLogger, createMetricsRegistry, Counter, registerDependencyGauge, startTelemetry, stopTelemetry } from '@qv/telemetry';
startTelemetry('enrichment-worker');

import { LocalSingleFlightCache } from '@qv/cache';
import { QUEUE_NAMES } from '@qv/contracts';
import { createPool } from '@qv/db/sql';
import { announceReady, limitHeapGrowth, onShutdown, serveOperations, AUTHENTICATED_CALLERS, ServiceAuthenticator } from '@qv/http';
import { breakerPolicy, createProvider, resolveLlmConfig } from '@qv/llm';
import { InlineSettlement, settledUsageCounter, usageEventBatcher } from '@qv/ledger';
import { bullPrefix, createFastRedis, createQueue, createRedis, UsageEventsPublisher } from '@qv/queue';
import { createProviderGuard } from './domain/provider-guard';
import { CIRCUIT_STATE, createCircuitStateGauge, registerQueueMetrics } from './domain/queue-metrics';
import { loadConfig } from './config';
import { ItemsRepository } from './repositories/items.repository';
import { startEnrichmentWorker } from './worker';

async function main(): Promise<void> {
  const config = loadConfig();
  limitHeapGrowth(config.HEAP_GROWTH_PERCENT);
  const llmConfig = resolveLlmConfig(config);
  const logger = createLogger('enrichment-worker', config.LOG_LEVEL);
  const metrics = createMetricsRegistry('enrichment-worker');
  const pool = createPool({ connectionString: config.DATABASE_URL, max: config.DB_POOL_SIZE });
  pool.on('error', (err) => logger.warn({ err: err.message }, 'idle database connection error'));
  const redis = createRedis(config.REDIS_URL);
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const enrichmentQueue = createQueue(QUEUE_NAMES.enrichment, redis, config.REDIS_PREFIX);
  const deadLetterQueue = createQueue(QUEUE_NAMES.enrichmentDead, redis, config.REDIS_PREFIX);
  const usageQueue = createQueue(QUEUE_NAMES.usageEvents, redis, config.REDIS_PREFIX);
  const provider = createProvider(llmConfig);
  // The cache in process (libs/cache, cache-service's code) on connections of its own, as
  // cache-service has them: auto-pipelined reads, and a subscriber for the single-flight wake-ups.
  const cacheRedis = createFastRedis(config.REDIS_URL, { enableAutoPipelining: true });
  const cacheSubscriber = createFastRedis(config.REDIS_URL, { commandTimeout: undefined });
  for (const conn of [cacheRedis, cacheSubscriber]) conn.on('error', (err) => logger.warn({ err: err.message }, 'redis (cache) connection error'));
  const cache = await LocalSingleFlightCache.start(
    { redis: cacheRedis, subscriber: cacheSubscriber, db: pool, prefix: config.REDIS_PREFIX, registry: metrics, logger, durableTiers: config.CACHE_DURABLE_TIERS },
    { timeoutMs: config.CACHE_TIMEOUT_MS, maxWaitMs: config.CACHE_WAIT_MS, leaseMs: config.SINGLE_FLIGHT_LEASE_MS },
  );
  const circuitState = createCircuitStateGauge(metrics);
  const circuitOpened = new Counter({ name: 'llm_circuit_opened_total', help: 'Times the LLM circuit opened (a provider-wide fault, or a failed trial call)', registers: [metrics] });
  const guard = createProviderGuard({
    policy: breakerPolicy(config, llmConfig.timeoutMs),
    logger,
    onState: (state) => {
      circuitState.set(CIRCUIT_STATE[state]);
      if (state === 'open') circuitOpened.inc();
    },
  });
  registerQueueMetrics(metrics, [enrichmentQueue, deadLetterQueue, usageQueue]);
  registerDependencyGauge(metrics, [
    { name: 'postgres', check: () => pool.query('SELECT 1') },
    { name: 'redis', check: () => redis.ping() },
  ]);

  const deps = {
    items: new ItemsRepository(pool),
    provider,
    guard,
    cache,
    cacheWaitMs: config.CACHE_WAIT_MS,
    // Each item's usage event is applied here as the item ends (its ledger entry and settlement in
    // one commit, grouped with the items ending beside it); ledger-consumer takes from the queue
    // only what could not be applied here.
    usage: new InlineSettlement({
      ledger: usageEventBatcher(pool, { maxBatch: config.APPLY_BATCH_MAX, maxInFlight: config.APPLY_BATCHES_IN_FLIGHT }),
      fallback: new UsageEventsPublisher(usageQueue),
      count: settledUsageCounter(metrics),
      logger,
    }),
    enrichmentQueue,
    deadLetterQueue,
    logger,
    metrics: {
      llmCalls: new Counter({ name: 'llm_calls_total', help: 'LLM calls made, by task', labelNames: ['task'], registers: [metrics] }),
      cacheHits: new Counter({ name: 'enrichment_cache_hits_total', help: 'Tasks answered from the cache, by tier', labelNames: ['tier'], registers: [metrics] }),
      cacheUnavailable: new Counter({ name: 'enrichment_cache_unavailable_total', help: 'Cache calls that failed and were skipped (fail open)', labelNames: ['operation'], registers: [metrics] }),
    },
  };
  const running = startEnrichmentWorker(deps, {
    connection: createRedis(config.REDIS_URL),
    prefix: bullPrefix(config.REDIS_PREFIX),
    concurrency: config.QUEUE_CONCURRENCY,
    retryBaseDelayMs: config.RETRY_BASE_DELAY_MS,
    lockDurationMs: config.QUEUE_LOCK_MS,
    stalledIntervalMs: config.QUEUE_STALL_CHECK_INTERVAL_MS,
    maxStalledCount: config.QUEUE_MAX_STALLS,
    deadLetterSweepMs: config.DEAD_LETTER_SWEEP_MS,
  });

  const server = await serveOperations({
    port: config.PORT,
    host: config.HOST,
    service: 'enrichment-worker',
    logger,
    metrics,
    serviceAuth: ServiceAuthenticator.fromConfig(config, AUTHENTICATED_CALLERS['enrichment-worker']),
    readiness: [
      { name: 'postgres', check: () => pool.query('SELECT 1') },
      { name: 'redis', check: () => redis.ping() },
      { name: 'worker', check: async () => { if (!running.worker.isRunning()) throw new Error('not running'); } },
    ],
  });
  logger.info({ port: server.port, provider: provider.name, model: provider.model, concurrency: config.QUEUE_CONCURRENCY }, 'enrichment-worker running');

  onShutdown(async () => {
    await running.stop();
    await server.close();
    await Promise.all([enrichmentQueue.close(), deadLetterQueue.close(), usageQueue.close()]);
    await cache.close();
    cacheRedis.disconnect();
    cacheSubscriber.disconnect();
    redis.disconnect();
    await pool.end();
    await stopTelemetry();
  }, logger, config.SHUTDOWN_TIMEOUT_MS);
  // Only once SIGTERM is handled: a stop right after `ready` must still be graceful.
  announceReady('enrichment-worker', server.port);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
