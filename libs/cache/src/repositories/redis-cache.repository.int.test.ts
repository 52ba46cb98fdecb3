import { once } from 'node:events';
import { createFastRedis, type Redis } from '@qv/queue';
import { testRedisPrefix, testRedisUrl } from '@qv/testing';
import { CacheKeyspace } from '../domain/cache-keys';
import { RedisCacheRepository } from './redis-cache.repository';

/** The complete marker on the real Redis: only the last warm begun, with Redis not emptied since, sets it. */
let redis: Redis;
let keys: CacheKeyspace;
let repo: RedisCacheRepository;

beforeAll(async () => {
  redis = createFastRedis(testRedisUrl());
  if (redis.status !== 'ready') await once(redis, 'ready');
});
beforeEach(() => {
  keys = new CacheKeyspace(testRedisPrefix());
  repo = new RedisCacheRepository(redis, keys);
});
afterEach(async () => {
  await redis.del(keys.completeKey, keys.warmingKey);
});
afterAll(() => redis.disconnect());

describe('the complete marker', () => {
  it('a warm marks Redis complete, and a miss then says so', async () => {
    expect(await repo.isComplete()).toBe(false);
    expect(await repo.getCountingHit('content', keys.entryKey('content', 'usr_a', 'h1'))).toEqual({ raw: null, complete: false });
    await repo.beginWarm('w1');
    expect(await repo.markComplete('w1')).toBe(true);
    expect(await repo.isComplete()).toBe(true);
    expect(await repo.getCountingHit('content', keys.entryKey('content', 'usr_a', 'h1'))).toEqual({ raw: null, complete: true });
    expect(await repo.getManyCountingHit([{ tier: 'content', entryKey: keys.entryKey('content', 'usr_a', 'h2') }])).toEqual([{ raw: null, complete: true }]);
  });

  it('a warm during which Redis was emptied (its token gone) does not mark it complete', async () => {
    await repo.beginWarm('w1');
    await redis.del(keys.warmingKey); // what a restart or a flush does to the token, and to the pages written so far
    expect(await repo.markComplete('w1')).toBe(false);
    expect(await repo.isComplete()).toBe(false);
  });

  it('of two warms under way, only the last begun marks it', async () => {
    await repo.beginWarm('first');
    await repo.beginWarm('second');
    expect(await repo.markComplete('first')).toBe(false);
    expect(await repo.isComplete()).toBe(false);
    expect(await repo.markComplete('second')).toBe(true);
    expect(await repo.isComplete()).toBe(true);
  });
});
