import { once } from 'node:events';
import { readWriteCache } from '@qv/cache';
import { cacheKey } from '@qv/cache-client';
import type { CacheKeyParts, CacheTier } from '@qv/contracts';
import { createFastRedis, type Redis } from '@qv/queue';
import { createLogger, createMetricsRegistry } from '@qv/telemetry';
import { testRedisPrefix, testRedisUrl, useTestDatabase } from '@qv/testing';
import { InProcessChatCache } from './chat-cache';

/**
 * The chat path's in-process cache on the real Redis (a prefix of its own) and PostgreSQL (a
 * database of this file's own): overlapping reads and fills go in groups, and each still answers
 * and counts exactly as alone — a Redis miss found in PostgreSQL (a durable tier) or final (Redis
 * alone, the default), the same key twice at once, one hit or one miss per read.
 */

const db = useTestDatabase();
const logger = createLogger('api-service-test', 'silent');
let redis: Redis;
let prefix: string;

beforeAll(async () => {
  redis = createFastRedis(testRedisUrl(), { enableAutoPipelining: true });
  // No offline queue on this connection (as in api-service): a command before it is ready fails.
  if (redis.status !== 'ready') await once(redis, 'ready');
});
beforeEach(() => {
  prefix = testRedisPrefix();
});
afterEach(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
});
afterAll(() => redis.disconnect());

const keyOf = (scope: string, input: string): CacheKeyParts => ({ tier: 'content', scope, task: 'chat', model: 'sim-1', promptVersion: '1', input });
const entryOf = (n: number) => ({ value: { content: `answer ${n}` }, tokens: 10 + n, model: 'sim-1', costUsd: 0.001 });

async function userRow(): Promise<string> {
  const id = `usr_chatcache${Math.random().toString(36).slice(2, 10)}`;
  await db().query('INSERT INTO users (id, plan_id) VALUES ($1, $2)', [id, 'pro_monthly']);
  return id;
}

function cacheOn(durableTiers?: CacheTier[]) {
  const service = readWriteCache({ redis, db: db().sql, prefix, registry: createMetricsRegistry('api-service-test'), logger, durableTiers });
  return { service, chat: new InProcessChatCache(service, 5000, { maxBatch: 64, maxInFlight: 1 }) };
}
const redisKeyOf = (k: CacheKeyParts) => `${prefix}:cache:${k.tier}:${k.scope}:${cacheKey(k)}`;
const rowsOf = async (user: string) => Number((await db().query<{ n: string }>('SELECT count(*) AS n FROM ai_cache WHERE user_id = $1', [user]))[0].n);

describe('InProcessChatCache: grouped reads and fills, each as alone', () => {
  it('by default (the content tier in Redis alone) fills write no row, and an entry Redis lost is one final miss', async () => {
    const { service, chat } = cacheOn();
    const user = await userRow();
    const keys = Array.from({ length: 28 }, (_, i) => keyOf(user, `prompt ${i}`));
    const fills = await Promise.all([...keys.map((k, i) => chat.put(k, entryOf(i), 600)), chat.put(keys[0], entryOf(0), 600)]);
    expect(fills.every((f) => f.stored)).toBe(true);
    expect(await rowsOf(user)).toBe(0);
    expect((await service.stats()).tiers.content.entries).toBe(28);

    await redis.del(redisKeyOf(keys[0]), redisKeyOf(keys[1]));
    const reads = await Promise.all([...keys.map((k) => chat.get(k)), chat.get(keys[5])]);
    expect(reads.map((r) => r.hit)).toEqual([false, false, ...keys.slice(2).map(() => true), true]);
    expect(reads[28]).toEqual({ hit: true, entry: entryOf(5) });
    const { tiers } = await service.stats();
    expect(tiers.content).toMatchObject({ entries: 26, hits: 27, misses: 2 });
  });

  it('with the content tier durable, fills 30 overlapping calls (one key three times) and reads each back, a Redis miss found in PostgreSQL', async () => {
    const { service, chat } = cacheOn(['system', 'content']);
    const user = await userRow();
    const keys = Array.from({ length: 28 }, (_, i) => keyOf(user, `prompt ${i}`));
    const fills = await Promise.all([...keys.map((k, i) => chat.put(k, entryOf(i), 600)), chat.put(keys[0], entryOf(0), 600), chat.put(keys[0], entryOf(0), 600)]);
    expect(fills.every((f) => f.stored)).toBe(true);
    expect(await rowsOf(user)).toBe(28);

    // Redis loses two entries: PostgreSQL has them, and they are hits all the same.
    await redis.del(...(await redis.keys(`${prefix}:cache:content:${user}:*`)).slice(0, 2));
    const missing = keyOf(user, 'never asked');
    const reads = await Promise.all([...keys.map((k) => chat.get(k)), chat.get(keys[5]), chat.get(missing)]);
    expect(reads.slice(0, 28).map((r) => r.entry)).toEqual(keys.map((_, i) => entryOf(i)));
    expect(reads[28]).toEqual({ hit: true, entry: entryOf(5) });
    expect(reads[29]).toEqual({ hit: false, entry: null });
    const { tiers } = await service.stats();
    expect(tiers.content).toMatchObject({ hits: 29, misses: 1, tokensSaved: keys.reduce((sum, _, i) => sum + 10 + i, 0) + 15 });
  });

  it("never answers one user's entry to another", async () => {
    const { chat } = cacheOn();
    const [alice, bob] = [await userRow(), await userRow()];
    await chat.put(keyOf(alice, 'the same prompt'), entryOf(1), 600);
    const [mine, theirs] = await Promise.all([chat.get(keyOf(alice, 'the same prompt')), chat.get(keyOf(bob, 'the same prompt'))]);
    expect(mine.hit).toBe(true);
    expect(theirs).toEqual({ hit: false, entry: null });
  });

  it('stores nothing for a call without a TTL (a plan without the tier)', async () => {
    const { chat } = cacheOn();
    const user = await userRow();
    const [a, b] = await Promise.all([chat.put(keyOf(user, 'x'), entryOf(1), null), chat.put(keyOf(user, 'y'), entryOf(2), 600)]);
    expect([a.stored, b.stored]).toEqual([false, true]);
    expect((await chat.get(keyOf(user, 'x'))).hit).toBe(false);
  });

  it('a read of an entry whose fill was not awaited waits for it (the answer does not wait for its fill); drain waits for every fill', async () => {
    const { chat } = cacheOn();
    const user = await userRow();
    const keys = Array.from({ length: 10 }, (_, i) => keyOf(user, `unawaited ${i}`));
    const fills = keys.map((k, i) => chat.put(k, entryOf(i), 600));
    const reads = await Promise.all(keys.map((k) => chat.get(k)));
    expect(reads.map((r) => r.hit)).toEqual(keys.map(() => true));
    expect(reads[3].entry).toMatchObject({ value: { content: 'answer 3' } });

    const later = keyOf(user, 'drained');
    void chat.put(later, entryOf(99), 600);
    await chat.drain();
    expect(await redis.exists(...[...keys, later].map(redisKeyOf))).toBe(11);
    await Promise.all(fills);
  });
});
