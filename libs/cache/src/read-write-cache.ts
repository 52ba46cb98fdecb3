import type { Redis } from 'ioredis';
import type { Logger, Registry } from '@qv/telemetry';
import { CacheService } from './cache.service';
import { CacheKeyspace } from './domain/cache-keys';
import { CacheMetrics } from './domain/cache-metrics';
import { EntryEvents } from './repositories/entry-events';
import { PgCacheRepository, type CacheSqlPort } from './repositories/pg-cache.repository';
import { RedisCacheRepository } from './repositories/redis-cache.repository';

/**
 * The cache for a process that reads and writes entries (get, put) but serves no single-flight
 * lookups (api-service's chat path): cache-service's own code on the process's Redis connection and
 * PostgreSQL pool, the same keys under `prefix`, the same counters in Redis and metrics in
 * `registry`; no pub/sub subscription, so a lookup here would never wait for another holder.
 */
export function readWriteCache(deps: { redis: Redis; db: CacheSqlPort; prefix: string; registry: Registry; logger: Logger }): CacheService {
  const keys = new CacheKeyspace(deps.prefix);
  const events = EntryEvents.none();
  return new CacheService({
    keys,
    redis: new RedisCacheRepository(deps.redis, keys),
    pg: new PgCacheRepository(deps.db),
    events,
    metrics: new CacheMetrics(deps.registry, () => events.waiting),
    logger: deps.logger,
    leaseMs: 0,
    maxWaitMs: 0,
  });
}
