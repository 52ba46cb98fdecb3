import { apiKeyPrefix, generateApiKey, hashApiKey, type SqlPort } from '@qv/db';
import { createFastRedis, createRedis } from '@qv/queue';
import { eventually, testRedisPrefix, testRedisUrl, useTestDatabase } from '@qv/testing';
import type { Redis } from 'ioredis';
import { authEvictionChannel, RedisAuthEvictions } from './auth-evictions';
import { AuthFailureThrottle } from './auth-throttle';
import { PrincipalResolver, type PrincipalResolverOptions } from './auth.repository';

/** A replica's auth state: its own resolver, subscribed to the shared eviction channel. */
interface Replica {
  resolver: PrincipalResolver;
  subscriber: Redis;
}

describe('PrincipalResolver with Redis evictions', () => {
  const db = useTestDatabase();
  let prefix: string;
  let publisher: Redis;
  const replicas: Replica[] = [];
  let n = 0;

  const startReplica = async (options: PrincipalResolverOptions = {}, sql: SqlPort = db().sql): Promise<Replica> => {
    const evictions = new RedisAuthEvictions({ publisher, channel: authEvictionChannel(prefix) });
    const resolver = new PrincipalResolver(sql, { ttlMs: 60_000, negativeTtlMs: 60_000, publisher: evictions, ...options });
    const subscriber = createRedis(testRedisUrl(), { autoResubscribe: false });
    await evictions.subscribe(subscriber, { evict: (e) => resolver.evict(e), evictAll: () => resolver.evictAll() });
    const replica = { resolver, subscriber };
    replicas.push(replica);
    return replica;
  };
  const newUser = async (planId = 'free') => {
    const id = `usr_auth_${++n}`;
    await db().prisma.user.create({ data: { id, planId, role: 'user' } });
    return id;
  };
  /** Stores a key straight in the database, as another process would: nobody is told. */
  const storeKey = async (userId: string, apiKey = generateApiKey()) => {
    const key = await db().prisma.apiKey.create({ data: { id: `key_auth_${++n}`, userId, keyHash: hashApiKey(apiKey), prefix: apiKeyPrefix(apiKey) } });
    return { apiKey, keyId: key.id, keyHash: key.keyHash };
  };
  const revokeInDb = (keyId: string) => db().prisma.apiKey.update({ where: { id: keyId }, data: { revokedAt: new Date() } });

  beforeAll(async () => {
    prefix = testRedisPrefix();
    publisher = createRedis(testRedisUrl());
  });
  afterAll(async () => {
    for (const r of replicas) r.subscriber.disconnect();
    publisher.disconnect();
  });

  it('keeps a found key for its TTL: a revocation nobody announces is not seen before it', async () => {
    const a = await startReplica();
    const key = await storeKey(await newUser());
    expect(await a.resolver.resolve(key.apiKey)).toMatchObject({ planId: 'free', role: 'user' });
    await revokeInDb(key.keyId);
    expect(await a.resolver.resolve(key.apiKey)).not.toBeNull(); // cached: no look-up
  });

  it('a revocation announced by one replica is refused at once there and within milliseconds on another', async () => {
    const [a, b] = [await startReplica(), await startReplica()];
    const key = await storeKey(await newUser());
    expect(await a.resolver.resolve(key.apiKey)).not.toBeNull();
    expect(await b.resolver.resolve(key.apiKey)).not.toBeNull();
    await revokeInDb(key.keyId);
    const announcedAt = Date.now();
    await a.resolver.announce({ keyHash: key.keyHash });
    expect(await a.resolver.resolve(key.apiKey)).toBeNull();
    // Well inside the 60 s TTL: pub/sub did it (milliseconds on a quiet machine; the bound only has
    // to separate the announcement from the TTL on a loaded one).
    await eventually(async () => (await b.resolver.resolve(key.apiKey)) === null, 30_000, 5);
    expect(Date.now() - announcedAt).toBeLessThan(30_000);
  });

  it('remembers an unknown key as unknown (no look-up), and forgets it on every replica once the key is issued', async () => {
    const [a, b] = [await startReplica(), await startReplica()];
    const userId = await newUser();
    const apiKey = generateApiKey();
    expect(await a.resolver.resolve(apiKey)).toBeNull();
    expect(await b.resolver.resolve(apiKey)).toBeNull();
    const key = await storeKey(userId, apiKey);
    expect(await b.resolver.resolve(apiKey)).toBeNull(); // negatively cached: PostgreSQL not asked
    await a.resolver.announce({ keyHash: key.keyHash });
    expect(await a.resolver.resolve(apiKey)).toMatchObject({ userId });
    await eventually(async () => (await b.resolver.resolve(apiKey))?.userId === userId, 2000, 5);
  });

  it("a user's eviction drops every key of that user, and only theirs", async () => {
    const [a, b] = [await startReplica(), await startReplica()];
    const userId = await newUser('free');
    const otherId = await newUser('free');
    const other = await storeKey(otherId);
    const [k1, k2] = [await storeKey(userId), await storeKey(userId)];
    for (const k of [k1, k2, other]) expect((await b.resolver.resolve(k.apiKey))?.planId).toBe('free');
    await db().prisma.user.updateMany({ where: { id: { in: [userId, otherId] } }, data: { planId: 'payg' } });
    await a.resolver.announce({ userId });
    await eventually(async () => (await b.resolver.resolve(k1.apiKey))?.planId === 'payg', 2000, 5);
    expect((await b.resolver.resolve(k2.apiKey))?.planId).toBe('payg');
    expect((await b.resolver.resolve(other.apiKey))?.planId).toBe('free'); // not evicted: still its cached plan
  });

  it('a look-up in flight across an eviction answers its request but caches nothing', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let gated = true;
    // The real database, with the look-up held until the eviction has happened.
    const sql: SqlPort = db().sql;
    const slow: SqlPort = {
      query: async (text, values) => {
        if (gated) await gate;
        return sql.query(text, values);
      },
    };
    const a = await startReplica({}, slow);
    const key = await storeKey(await newUser());
    const inFlight = a.resolver.resolve(key.apiKey);
    a.resolver.evict({ keyHash: key.keyHash });
    release();
    expect(await inFlight).not.toBeNull();
    gated = false;
    await revokeInDb(key.keyId);
    expect(await a.resolver.resolve(key.apiKey)).toBeNull(); // looked up again: nothing was cached
  });

  it('forgets everything when its subscription comes back (evictions may have been missed)', async () => {
    const b = await startReplica();
    const key = await storeKey(await newUser());
    expect(await b.resolver.resolve(key.apiKey)).not.toBeNull();
    await revokeInDb(key.keyId); // announced while b was away: lost
    b.subscriber.disconnect(true);
    await eventually(async () => (await b.resolver.resolve(key.apiKey)) === null, 5000, 20);
  });

  it('a publish that fails is logged, not thrown: the change is made and evicted here', async () => {
    const warnings: unknown[] = [];
    const resolver = new PrincipalResolver(db().sql, { ttlMs: 60_000, publisher: { publish: () => Promise.reject(new Error('redis down')) }, logger: { warn: (o: unknown) => warnings.push(o) } as never });
    const key = await storeKey(await newUser());
    expect(await resolver.resolve(key.apiKey)).not.toBeNull();
    await revokeInDb(key.keyId);
    await expect(resolver.announce({ keyHash: key.keyHash })).resolves.toBeUndefined();
    expect(await resolver.resolve(key.apiKey)).toBeNull();
    expect(warnings).toHaveLength(1);
  });

  it('a flood of one wrong key, in parallel or not, is one query per TTL', async () => {
    let queries = 0;
    // The real database, counting the look-ups.
    const sql: SqlPort = db().sql;
    const counting: SqlPort = { query: (text, values) => (queries++, sql.query(text, values)) };
    const resolver = new PrincipalResolver(counting, { ttlMs: 60_000, negativeTtlMs: 60_000 });
    const wrong = generateApiKey();
    expect(await Promise.all(Array.from({ length: 50 }, () => resolver.resolve(wrong)))).toEqual(Array(50).fill(null));
    for (let i = 0; i < 50; i++) expect(await resolver.resolve(wrong)).toBeNull();
    expect(queries).toBe(1);
    const valid = await storeKey(await newUser());
    const found = await Promise.all(Array.from({ length: 20 }, () => resolver.resolve(valid.apiKey)));
    expect(new Set(found.map((p) => p?.userId)).size).toBe(1);
    expect(queries).toBe(2);
    resolver.evict({ keyHash: hashApiKey(wrong) });
    expect(await resolver.resolve(wrong)).toBeNull();
    expect(queries).toBe(3);
  });

  it('keeps each cache bounded, the oldest entry going first', async () => {
    const resolver = new PrincipalResolver(db().sql, { ttlMs: 60_000, negativeTtlMs: 60_000, maxEntries: 2 });
    const userId = await newUser();
    const keys = [await storeKey(userId), await storeKey(userId), await storeKey(userId)];
    for (const k of keys) await resolver.resolve(k.apiKey);
    expect(keys.map((k) => resolver.cached(k.apiKey) !== undefined)).toEqual([false, true, true]);
  });
});

describe('AuthFailureThrottle', () => {
  let redis: Redis;
  beforeAll(async () => {
    redis = createFastRedis(testRedisUrl());
    await new Promise((resolve) => redis.once('ready', resolve)); // no offline queue: commands before this fail
  });
  afterAll(() => redis.disconnect());

  it('counts failures over every replica: past the limit each gets the rest of the window to wait, then the count starts afresh', async () => {
    const prefix = testRedisPrefix();
    const [a, b] = [0, 1].map(() => new AuthFailureThrottle({ redis, prefix, limit: 3, windowMs: 1500 }));
    expect([await a.recordFailure('203.0.113.1'), await b.recordFailure('203.0.113.1'), await a.recordFailure('203.0.113.1')]).toEqual([0, 0, 0]);
    expect(a.blockedFor('203.0.113.1')).toBe(0);
    const wait = await b.recordFailure('203.0.113.1');
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(1500);
    expect(b.blockedFor('203.0.113.1')).toBeGreaterThan(0);
    expect(a.blockedFor('203.0.113.1')).toBe(0); // a learns it at its own next failure
    expect(await a.recordFailure('203.0.113.1')).toBeGreaterThan(0);
    expect(await a.recordFailure('203.0.113.2')).toBe(0); // another client: its own count
    expect(await redis.pttl(`${prefix}:auth:failures:203.0.113.1`)).toBeGreaterThan(0);

    await new Promise((r) => setTimeout(r, wait + 50));
    expect(b.blockedFor('203.0.113.1')).toBe(0);
    expect(await b.recordFailure('203.0.113.1')).toBe(0);
  });

  it('fails open when Redis is down: the failure is answered uncounted, at once', async () => {
    const down = createFastRedis('redis://127.0.0.1:1', { retryStrategy: () => null });
    down.on('error', () => undefined);
    const throttle = new AuthFailureThrottle({ redis: down, prefix: testRedisPrefix(), limit: 1, windowMs: 60_000 });
    const started = Date.now();
    for (let i = 0; i < 3; i++) expect(await throttle.recordFailure('203.0.113.9')).toBe(0);
    expect(Date.now() - started).toBeLessThan(1000);
    down.disconnect();
  });
});
