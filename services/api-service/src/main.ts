import { createLogger, createMetricsRegistry, startTelemetry, stopTelemetry } from '@qv/telemetry';
startTelemetry('api-service');

import { QUEUE_NAMES } from '@qv/contracts';
import { createPool, ensureUserWithKey, hashApiKey } from '@qv/db/sql';
import { announceReady, limitHeapGrowth, AUTHENTICATED_CALLERS, listen, onShutdown, serveOperations, ServiceAuthenticator, withTimeout, type ReadinessCheck } from '@qv/http';
import { createFastRedis, createQueue, createRedis, UsageEventsPublisher } from '@qv/queue';
import { CacheClient } from '@qv/cache-client';
import { createApp } from './app';
import { startHousekeeping } from './repositories/housekeeping';
import { openApiRoutes } from './openapi/openapi.routes';
import { adminCacheRoutes } from './routes/admin/cache.routes';
import { adminDlqRoutes } from './routes/admin/dlq.routes';
import { adminLedgerRoutes } from './routes/admin/ledger.routes';
import { adminOverviewRoutes } from './routes/admin/overview.routes';
import { DeadLettersRepository } from './repositories/dead-letters.repository';
import { loadConfig } from './config';
import { ItemWriter } from './repositories/items.repository';
import { OutboxPublisher } from './repositories/outbox.publisher';
import { QuotaClient } from './repositories/quota.client';
import { PrincipalResolver } from './repositories/auth.repository';
import { authEvictionChannel, RedisAuthEvictions } from './repositories/auth-evictions';
import { AuthFailureThrottle } from './repositories/auth-throttle';
import { KeyedGate } from '@qv/http';
import { breakerPolicy, ProviderBreaker, resolveLlmConfig } from '@qv/llm';
import { CacheTtlsRepository } from './repositories/cache-ttls.repository';
import { ChatUpstream } from './repositories/chat-upstream';
import { InProcessChatCache } from './repositories/chat-cache';
import { readWriteCache } from '@qv/cache';
import { InlineSettlement, settledUsageCounter, usageEventBatcher } from '@qv/ledger';
import { chatCompletionsRoutes, type ChatCompletionsRouteDeps } from './routes/chat-completions.routes';
import { anthropicMessagesRoutes } from './routes/anthropic-messages.routes';
import { modelsRoutes } from './routes/models.routes';
import { ModelList } from './domain/model-list';
import { earlyRefusals } from './routes/early-refusals';
import { RefusalMemo } from './domain/refusal-memo';

async function main(): Promise<void> {
  const config = loadConfig();
  limitHeapGrowth(config.HEAP_GROWTH_PERCENT);
  const logger = createLogger('api-service', config.LOG_LEVEL);
  const metrics = createMetricsRegistry('api-service');
  // One node-postgres pool for the process, and no ORM: Prisma's client layer was a measurable share
  // of this process' CPU under load (bench/api.bench.ts), and with its query compiler ~110 MB of
  // its resident set. Prisma keeps the schema, the migrations and the row types.
  const pool = createPool({ connectionString: config.DATABASE_URL, max: config.DB_POOL_SIZE });
  // An idle connection's error (PostgreSQL restarted) is emitted on the pool: unheard, it kills the process.
  pool.on('error', (err) => logger.warn({ err: err.message }, 'idle database connection error'));
  const redis = createRedis(config.REDIS_URL);
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const enrichmentQueue = createQueue(QUEUE_NAMES.enrichment, redis, config.REDIS_PREFIX);
  const deadLetterQueue = createQueue(QUEUE_NAMES.enrichmentDead, redis, config.REDIS_PREFIX);
  const deadLetters = new DeadLettersRepository({ deadLetterQueue, enrichmentQueue });
  const cache = new CacheClient({ baseUrl: config.CACHE_SERVICE_URL, timeoutMs: 5000, credential: config.SERVICE_TOKEN_API });
  const quota = new QuotaClient(config.QUOTA_SERVICE_URL, config.QUOTA_TIMEOUT_MS, config.SERVICE_TOKEN_API, new RefusalMemo(config.QUOTA_REFUSAL_MEMO_MS), {
    maxBatch: config.QUOTA_CHARGE_BATCH_MAX,
    maxInFlight: config.QUOTA_CHARGE_BATCHES_IN_FLIGHT,
  });
  const outbox = new OutboxPublisher({ db: pool, queues: { [QUEUE_NAMES.enrichment]: enrichmentQueue }, logger, enqueueTimeoutMs: config.ENQUEUE_TIMEOUT_MS });

  if (config.ADMIN_API_KEY) {
    await ensureUserWithKey(pool, { id: 'usr_admin', email: 'admin@localhost', planId: 'enterprise', role: 'admin', apiKey: config.ADMIN_API_KEY });
  }

  // Revocations and new keys reach every replica's principal cache over pub/sub; the subscription
  // is waited for briefly only, so that with Redis down this replica still starts and serves, its
  // cache then bounded by AUTH_CACHE_TTL_MS alone (PrincipalResolver).
  const evictions = new RedisAuthEvictions({ publisher: redis, channel: authEvictionChannel(config.REDIS_PREFIX), logger });
  const principals = new PrincipalResolver(pool, { ttlMs: config.AUTH_CACHE_TTL_MS, negativeTtlMs: config.AUTH_NEGATIVE_CACHE_TTL_MS, publisher: evictions, logger,
    onEvict: (eviction) => (eviction === 'all' ? quota.forgetAll() : 'userId' in eviction ? quota.forget(eviction.userId) : undefined),
  });
  const evictionSubscriber = createRedis(config.REDIS_URL, { autoResubscribe: false });
  evictionSubscriber.on('error', (err) => logger.warn({ err: err.message }, 'redis (auth evictions) connection error'));
  await withTimeout(evictions.subscribe(evictionSubscriber, { evict: (e) => principals.evict(e), evictAll: () => principals.evictAll() }), 2000).catch(() =>
    logger.warn(`auth evictions not subscribed yet: until they are, other replicas' revocations reach this one within ${config.AUTH_CACHE_TTL_MS} ms`),
  );
  // A key seeded here is new to the other replicas, which may remember it as unknown.
  if (config.ADMIN_API_KEY) await principals.announce({ keyHash: hashApiKey(config.ADMIN_API_KEY) });
  // Fails fast: a failed authentication never waits on a Redis that is down (AuthFailureThrottle fails open).
  const authRedis = createFastRedis(config.REDIS_URL, { commandTimeout: 500 });
  authRedis.on('error', (err) => logger.warn({ err: err.message }, 'redis (auth failures) connection error'));
  const authThrottle = new AuthFailureThrottle({ redis: authRedis, prefix: config.REDIS_PREFIX, limit: config.AUTH_FAILURE_LIMIT, windowMs: config.AUTH_FAILURE_WINDOW_MS, logger });

  // The synchronous OpenAI-compatible path settles its calls here (libs/ledger InlineSettlement);
  // the queue takes those it could not apply.
  const usageQueue = createQueue(QUEUE_NAMES.usageEvents, redis, config.REDIS_PREFIX);
  const llm = resolveLlmConfig(config);
  // The same BREAKER_* variables as the worker: a fault seen across several users' calls, never one user's.
  const breaker = new ProviderBreaker(breakerPolicy(config, llm.timeoutMs), {
    onStateChange: ({ from, to, reason }) => logger.warn({ from, to, reason }, 'chat path: LLM circuit state change'),
  });
  // The chat path's cache tiers in process (libs/cache on this replica's Redis and pool): a
  // synchronous call's read and fill cost no hop to cache-service. Auto-pipelined, as
  // cache-service's: the reads of many calls go to Redis in one write.
  const cacheRedis = createFastRedis(config.REDIS_URL, { enableAutoPipelining: true });
  cacheRedis.on('error', (err) => logger.warn({ err: err.message }, 'redis (chat cache) connection error'));
  const chatCache = new InProcessChatCache(readWriteCache({ redis: cacheRedis, db: pool, prefix: config.REDIS_PREFIX, registry: metrics, logger, durableTiers: config.CACHE_DURABLE_TIERS }), config.CACHE_TIMEOUT_MS);
  const chatUpstream = new ChatUpstream({ name: llm.provider, baseURL: llm.baseUrl, apiKey: llm.apiKey ?? 'unused', timeoutMs: llm.timeoutMs, maxAnswerBytes: llm.maxAnswerBytes, breaker });
  // One set of deps for both dialects: a user's calls share one line and one batcher whichever API they speak.
  const chatDeps: ChatCompletionsRouteDeps | undefined =
    llm.provider === 'anthropic'
      ? undefined // Anthropic's API is not OpenAI-compatible: this path needs an OpenAI-compatible upstream.
      : {
          db: pool,
          principals,
          authThrottle,
          quota,
          cache: chatCache,
          cacheTtls: new CacheTtlsRepository(pool),
          upstream: chatUpstream,
          usage: new InlineSettlement({
            ledger: usageEventBatcher(pool, { maxBatch: config.APPLY_BATCH_MAX, maxInFlight: config.APPLY_BATCHES_IN_FLIGHT }),
            fallback: new UsageEventsPublisher(usageQueue),
            count: settledUsageCounter(metrics),
            logger,
          }),
          defaultModel: llm.model ?? 'sim-1',
          admission: new KeyedGate({ maxActive: config.ACCEPT_ADMISSION_ACTIVE, maxQueued: config.ACCEPT_ADMISSION_QUEUE, maxWaitMs: Math.max(config.ACCEPT_ADMISSION_WAIT_MS, 5000) }),
          promptBounds: { imagePartTokens: config.CHAT_IMAGE_PART_TOKENS },
          streamBufferBytes: config.CHAT_STREAM_BUFFER_BYTES,
          idempotency: { ttlHours: config.IDEMPOTENCY_TTL_HOURS, lockSeconds: config.IDEMPOTENCY_LOCK_SECONDS },
          logger,
        };

  const readiness: ReadinessCheck[] = [
    { name: 'postgres', check: () => pool.query('SELECT 1') },
    { name: 'redis', check: () => redis.ping() },
    { name: 'quota-service', check: () => fetch(`${config.QUOTA_SERVICE_URL}/healthz`).then((r) => { if (!r.ok) throw new Error(`status ${r.status}`); }) },
  ];
  const acceptGate = new KeyedGate({ maxActive: config.ACCEPT_ADMISSION_ACTIVE, maxQueued: config.ACCEPT_ADMISSION_QUEUE, maxWaitMs: config.ACCEPT_ADMISSION_WAIT_MS });
  const app = createApp({
    db: pool,
    itemWriter: new ItemWriter(pool),
    principals,
    authThrottle,
    cors: { origins: config.CORS_ORIGINS, maxAgeSeconds: config.CORS_MAX_AGE_SECONDS },
    quota,
    outbox,
    logger,
    metrics,
    bodyLimit: config.BODY_LIMIT,
    idempotency: { ttlHours: config.IDEMPOTENCY_TTL_HOURS, lockSeconds: config.IDEMPOTENCY_LOCK_SECONDS },
    acceptGate,
    // The chat path authenticates on its own (so even its 401 is OpenAI-shaped), hence mounted before /v1's authentication.
    publicRouters: [openApiRoutes()],
    selfAuthenticatingRouters: chatDeps ? [chatCompletionsRoutes(chatDeps), anthropicMessagesRoutes(chatDeps), modelsRoutes({ ...chatDeps, models: new ModelList(() => chatUpstream.models()) })] : [],
    adminRouters: [adminDlqRoutes({ db: pool, deadLetters, quota }), adminCacheRoutes({ cache }), adminLedgerRoutes({ db: pool }), adminOverviewRoutes({ db: pool, queues: [enrichmentQueue], deadLetterQueue, metrics })],
    readiness,
  });
  const server = await listen(app, config.PORT, config.HOST, { before: earlyRefusals({ principals, admission: acceptGate, refusals: quota.refusals, latest: quota.latest, metrics }) });
  // /metrics lives here, off the public port; only the scraper's credential reads it.
  const ops = await serveOperations({ port: config.OPS_PORT, host: config.HOST, service: 'api-service', logger, metrics, readiness, serviceAuth: ServiceAuthenticator.fromConfig(config, AUTHENTICATED_CALLERS['api-service']) });
  const stopHousekeeping = startHousekeeping(pool, { intervalMs: config.HOUSEKEEPING_INTERVAL_MS, outboxRetentionHours: config.OUTBOX_RETENTION_HOURS, logger });
  const stopRelay = outbox.startRelay(config.OUTBOX_RELAY_INTERVAL_MS, config.OUTBOX_RELAY_GRACE_MS);
  logger.info({ port: server.port, opsPort: ops.port }, 'api-service listening');

  onShutdown(async () => {
    await server.close();
    await outbox.drain();
    await chatCache.drain();
    await ops.close();
    await stopRelay();
    await stopHousekeeping();
    await Promise.all([enrichmentQueue.close(), deadLetterQueue.close(), usageQueue.close()]);
    await cache.close();
    await chatUpstream.close();
    await quota.close();
    redis.disconnect();
    evictionSubscriber.disconnect();
    authRedis.disconnect();
    cacheRedis.disconnect();
    await pool.end();
    await stopTelemetry();
  }, logger, config.SHUTDOWN_TIMEOUT_MS);
  // `ops <name> <port>` before `ready`: the test harness (libs/testing startService) reads the
  // operations port from it; the `ready` line keeps the public port.
  process.stdout.write(`ops api-service ${ops.port}\n`);
  // Only once SIGTERM is handled: a stop right after `ready` must still be graceful.
  announceReady('api-service', server.port);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
