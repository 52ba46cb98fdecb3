import type { CacheTier } from '@qv/contracts';
import type { Redis } from 'ioredis';
import type { Logger, Registry } from '@qv/telemetry';
import { CacheService } from './cache.service';
import { CacheKeyspace } from './domain/cache-keys';
import { CacheMetrics } from './domain/cache-metrics';
import { EntryEvents } from './repositories/entry-events';
import { PgCacheRepository, type CacheSqlPort } from './repositories/pg-cache.repository';
import { RedisCacheRepository } from './repositories/redis-cache.repository';

/** What a process needs to run the cache itself: its Redis connection and pool, the deployment's prefix, its metrics. */
export interface InProcessCacheDeps {
  redis: Redis;
  db: CacheSqlPort;
  prefix: string;
  registry: Registry;
  logger: Logger;
  /** CACHE_DURABLE_TIERS (CacheServiceDeps.durableTiers). */
  durableTiers?: readonly CacheTier[];
}

/** cache-service's code on the calling process's connections, the same keys under `prefix`. */
export function inProcessCacheService(deps: InProcessCacheDeps, keys: CacheKeyspace, events: EntryEvents, leases: { leaseMs: number; maxWaitMs: number }): CacheService {
  return new CacheService({
    keys,
    redis: new RedisCacheRepository(deps.redis, keys),
    pg: new PgCacheRepository(deps.db),
    events,
    metrics: new CacheMetrics(deps.registry, () => events.waiting),
    logger: deps.logger,
    durableTiers: deps.durableTiers,
    ...leases,
  });
}

/**
 * The cache for a process that reads and writes entries (get, put) but serves no single-flight
 * lookups (api-service's chat path): cache-service's own code on the process's Redis connection and
 * PostgreSQL pool, the same keys under `prefix`, the same counters in Redis and metrics in
 * `registry`; no pub/sub subscription, so a lookup here would never wait for another holder.
 */
export function readWriteCache(deps: InProcessCacheDeps): CacheService {
  return inProcessCacheService(deps, new CacheKeyspace(deps.prefix), EntryEvents.none(), { leaseMs: 0, maxWaitMs: 0 });
}
