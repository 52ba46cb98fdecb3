import { once } from 'node:events';
import type { CacheKeyParts } from '@qv/contracts';
import { createFastRedis, type Redis } from '@qv/queue';
import { createLogger, createMetricsRegistry } from '@qv/telemetry';
import { testRedisPrefix, testRedisUrl, useTestDatabase } from '@qv/testing';
import { CacheService } from './cache.service';
import { CacheKeyspace } from './domain/cache-keys';
import { CacheMetrics } from './domain/cache-metrics';
import { EntryEvents } from './repositories/entry-events';
import { PgCacheRepository } from './repositories/pg-cache.repository';
import { RedisCacheRepository } from './repositories/redis-cache.repository';

/** The stats' entry count (a SCAN of every Redis key) kept for its maximum age; the counters always fresh. */
const db = useTestDatabase();
let redis: Redis;
const prefix = testRedisPrefix();

beforeAll(async () => {
  redis = createFastRedis(testRedisUrl());
  if (redis.status !== 'ready') await once(redis, 'ready');
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

function cacheService(entryCountMaxAgeMs: number): CacheService {
  const keys = new CacheKeyspace(prefix);
  const events = EntryEvents.none();
  return new CacheService({
    keys,
    redis: new RedisCacheRepository(redis, keys),
    pg: new PgCacheRepository(db().sql),
    events,
    metrics: new CacheMetrics(createMetricsRegistry('cache-stats-test'), () => events.waiting),
    logger: createLogger('cache-stats-test', 'silent'),
    leaseMs: 0,
    maxWaitMs: 0,
    entryCountMaxAgeMs,
  });
}

const key = (input: string): CacheKeyParts => ({ tier: 'content', scope: 'usr_stats', task: 'summarize', model: 'sim-1', promptVersion: 'v1', input });
const put = (cache: CacheService, input: string) => cache.put({ v: 1, key: key(input), entry: { value: input, tokens: 3, model: 'sim-1' }, ttlSeconds: 600 });

const system = (input: string): CacheKeyParts => ({ ...key(input), tier: 'system', scope: 'global' });

it('counts the entries (in Redis and in PostgreSQL) at most once per maximum age, while hits and misses stay exact', async () => {
  const kept = cacheService(60_000);
  await put(kept, 'one');
  await put(kept, 'two');
  const systemBefore = (await cacheService(0).stats()).tiers.system.entries;
  expect((await kept.stats()).tiers.content).toMatchObject({ entries: 2, hits: 0 });
  await put(kept, 'three');
  await kept.put({ v: 1, key: system('a prompt'), entry: { value: 'a prompt', tokens: 3, model: 'sim-1' } });
  await kept.get({ v: 1, key: key('three') });
  // The counts are the ones taken a moment ago; the hit is counted at once.
  expect((await kept.stats()).tiers.content).toMatchObject({ entries: 2, hits: 1 });
  expect((await kept.stats()).tiers.system.entries).toBe(systemBefore);
  // Counted at every call when the maximum age is 0.
  const fresh = await cacheService(0).stats();
  expect(fresh.tiers.content).toMatchObject({ entries: 3, hits: 1 });
  expect(fresh.tiers.system.entries).toBe(systemBefore + 1);
});
