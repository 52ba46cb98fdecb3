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
  await redis.del(keys.completeKey, keys.warmingKey, keys.statsKey('content'));
});
afterAll(() => redis.disconnect());

describe('the complete marker', () => {
  it('a warm marks Redis complete, and a miss then says so', async () => {
    expect(await repo.isComplete()).toBe(false);
    expect(await repo.getCountingHit('content', keys.entryKey('content', 'usr_a', 'h1'))).toEqual({ raw: null, complete: false, missCounted: false });
    await repo.beginWarm('w1');
    expect(await repo.markComplete('w1')).toBe(true);
    expect(await repo.isComplete()).toBe(true);
    expect(await repo.getCountingHit('content', keys.entryKey('content', 'usr_a', 'h1'))).toEqual({ raw: null, complete: true, missCounted: false });
    expect(await repo.getManyCountingHit([{ tier: 'content', entryKey: keys.entryKey('content', 'usr_a', 'h2') }])).toEqual([{ raw: null, complete: true, missCounted: false }]);
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

describe('a read asked to count its miss', () => {
  const entry = () => keys.entryKey('content', 'usr_a', 'h1');
  const misses = async () => Number((await redis.hget(keys.statsKey('content'), 'misses')) ?? 0);

  it("'if-complete' counts it only when Redis is complete (else PostgreSQL may still have the entry), once per read", async () => {
    expect(await repo.getCountingHit('content', entry(), undefined, 'if-complete')).toEqual({ raw: null, complete: false, missCounted: false });
    expect(await misses()).toBe(0);
    await repo.beginWarm('w1');
    await repo.markComplete('w1');
    expect(await repo.getCountingHit('content', entry(), undefined, 'if-complete')).toEqual({ raw: null, complete: true, missCounted: true });
    expect(await misses()).toBe(1);
    const many = await repo.getManyCountingHit([
      { tier: 'content', entryKey: entry(), countMiss: 'if-complete' },
      { tier: 'content', entryKey: keys.entryKey('content', 'usr_a', 'h2'), countMiss: 'if-complete' },
      { tier: 'content', entryKey: keys.entryKey('content', 'usr_a', 'h3') },
    ]);
    expect(many).toEqual([{ raw: null, complete: true, missCounted: true }, { raw: null, complete: true, missCounted: true }, { raw: null, complete: true, missCounted: false }]);
    expect(await misses()).toBe(3);
  });

  it("'always' counts it complete or not (an entry Redis alone keeps)", async () => {
    expect(await repo.getCountingHit('content', entry(), undefined, 'always')).toEqual({ raw: null, complete: false, missCounted: true });
    expect(await repo.getManyCountingHit([{ tier: 'content', entryKey: entry(), countMiss: 'always' }])).toEqual([{ raw: null, complete: false, missCounted: true }]);
    expect(await misses()).toBe(2);
  });

  it('counts nothing on a hit but the hit', async () => {
    await repo.set(entry(), JSON.stringify({ value: 'v', tokens: 7 }), 60_000);
    expect(await repo.getCountingHit('content', entry(), undefined, 'always')).toEqual({ raw: JSON.stringify({ value: 'v', tokens: 7 }) });
    expect(await misses()).toBe(0);
    expect(await repo.counters('content')).toMatchObject({ hits: 1, tokensSaved: 7 });
    await redis.del(entry());
  });
});

describe('counting entries', () => {
  it('counts the entry keys of each tier, each once, and no other key', async () => {
    const content = Array.from({ length: 1500 }, (_, i) => keys.entryKey('content', `usr_${i % 7}`, `h${i}`));
    const session = [keys.entryKey('session', 'usr_a', 'h0'), keys.entryKey('session', 'usr_b', 'h0')];
    const others = [keys.statsKey('content'), `${keys.prefix}:cache-lease:content:usr_a:h0`];
    const pipeline = redis.pipeline();
    for (const key of [...content, ...session, ...others]) pipeline.set(key, '{}', 'PX', 60_000);
    await pipeline.exec();
    try {
      expect(await repo.countEntries()).toEqual({ system: 0, session: 2, content: 1500 });
    } finally {
      await redis.del(...content, ...session, ...others);
    }
  });
});

describe('announcing the end of a computation', () => {
  /** Every message on the cache's channel until `stop`. */
  async function listen(): Promise<{ heard: string[]; stop: () => void }> {
    const subscriber = redis.duplicate();
    if (subscriber.status !== 'ready') await once(subscriber, 'ready');
    const heard: string[] = [];
    subscriber.on('message', (_channel: string, message: string) => heard.push(message));
    await subscriber.subscribe(keys.eventsChannel);
    return { heard, stop: () => subscriber.disconnect() };
  }
  const leaseKey = () => `${keys.prefix}:cache-lease:content:usr_a:h1`;
  const entryKey = () => keys.entryKey('content', 'usr_a', 'h1');
  const fill = (token?: string) => repo.storeAndComplete([{ entryKey: entryKey(), raw: '{}', ttlMs: 60_000, leaseKey: leaseKey(), token }]);
  /** A lookup's step that finds the lease held by another: it will wait, and marks that it does. */
  const waits = async (step: 'acquireOrRead' | 'readOrAcquire') => {
    await redis.del(entryKey());
    const answer = step === 'acquireOrRead' ? await repo.acquireOrRead('content', leaseKey(), entryKey(), 'waiter', 60_000) : await repo.readOrAcquire('content', entryKey(), leaseKey(), 'waiter', 60_000);
    expect(answer).toEqual({ pttl: expect.any(Number) });
  };

  it('publishes only when a lookup waits on the lease: a fill, a release or a holder\'s fill with nobody waiting wakes no process', async () => {
    const { heard, stop } = await listen();
    try {
      // Nobody holds the lease, nobody waits.
      expect(await repo.announceIfWaiting(leaseKey(), entryKey())).toBe(false);
      await fill();
      // Held, nobody waits: the holder's fill and a fill without the lease stay silent.
      expect(await repo.acquireLease(leaseKey(), 'holder', 60_000)).toBe(-10);
      expect(await repo.announceIfWaiting(leaseKey(), entryKey())).toBe(false);
      expect(await fill('holder')).toEqual([true]);
      expect(await repo.acquireLease(leaseKey(), 'holder', 60_000)).toBe(-10);
      expect(await repo.releaseAndAnnounce(leaseKey(), entryKey(), 'holder')).toBe(true);
      // Held, and a lookup waits: a fill without the lease announces once (the mark is taken)...
      expect(await repo.acquireLease(leaseKey(), 'holder', 60_000)).toBe(-10);
      await waits('acquireOrRead');
      expect(await repo.announceIfWaiting(leaseKey(), entryKey())).toBe(true);
      expect(await repo.announceIfWaiting(leaseKey(), entryKey())).toBe(false);
      // ...the holder's fill announces...
      await waits('readOrAcquire');
      expect(await fill('holder')).toEqual([true]);
      // ...and so does a computation that failed and gives its lease back, so a waiter takes it.
      expect(await repo.acquireLease(leaseKey(), 'other', 60_000)).toBe(-10);
      await waits('acquireOrRead');
      expect(await repo.releaseAndAnnounce(leaseKey(), entryKey(), 'other')).toBe(true);
      await repo.ping(); // the subscriber's connection is another: give its messages a round trip to land
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(heard).toEqual([entryKey(), entryKey(), entryKey()]);
    } finally {
      stop();
      await redis.del(entryKey(), leaseKey(), `${leaseKey()}:waiting`);
    }
  });
});
