import { once } from 'node:events';
import { singleFlight, singleFlightMany, type SingleFlightItem } from '@qv/cache-client';
import type { CacheKeyParts } from '@qv/contracts';
import { createFastRedis, type Redis } from '@qv/queue';
import { createLogger, createMetricsRegistry } from '@qv/telemetry';
import { testRedisPrefix, testRedisUrl, useTestDatabase } from '@qv/testing';
import { readWriteCache } from './read-write-cache';
import { LocalSingleFlightCache } from './single-flight-cache';

/**
 * The single-flight cache run in the worker's process, on the real Redis (a prefix of this file's
 * own) and PostgreSQL (a database of its own): two instances stand for two worker processes, each
 * with its own connections, so a lookup waiting on another's lease is woken through Redis pub/sub
 * as it is between replicas.
 */

const db = useTestDatabase();
const logger = createLogger('cache-test', 'silent');
const connections: Redis[] = [];
const prefixes: string[] = [];
let prefix: string;

async function connection(url = testRedisUrl(), options = {}): Promise<Redis> {
  const redis = createFastRedis(url, options);
  redis.on('error', () => undefined);
  connections.push(redis);
  if (redis.status !== 'ready') await once(redis, 'ready');
  return redis;
}

async function worker(options: Partial<{ timeoutMs: number; maxWaitMs: number; leaseMs: number }> = {}): Promise<LocalSingleFlightCache> {
  const [redis, subscriber] = [await connection(testRedisUrl(), { enableAutoPipelining: true }), await connection(testRedisUrl(), { commandTimeout: undefined })];
  return LocalSingleFlightCache.start({ redis, subscriber, db: db().sql, prefix, registry: createMetricsRegistry('cache-test'), logger }, { timeoutMs: 2000, maxWaitMs: 5000, leaseMs: 30_000, ...options });
}

const key = (input: string, overrides: Partial<CacheKeyParts> = {}): CacheKeyParts => ({ tier: 'content', scope: 'usr_local', task: 'summarize', model: 'sim-1', promptVersion: 'v1', input, ...overrides });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeEach(() => {
  prefix = testRedisPrefix();
  prefixes.push(prefix);
});
afterAll(async () => {
  const redis = await connection();
  for (const p of prefixes) {
    const keys = await redis.keys(`${p}:*`);
    if (keys.length) await redis.del(...keys);
  }
  // Not those already ended (a closed instance quit its subscriber): ioredis arms a 2 s timer to
  // destroy the stream of every disconnect, cleared only by a close event that an ended one never sends.
  for (const c of connections) if (c.status !== 'end') c.disconnect();
});

describe('LocalSingleFlightCache: single flight in the worker process, across processes', () => {
  it('20 concurrent misses on one key from two processes make exactly one computation; the other 19 are hits', async () => {
    const [a, b] = [await worker(), await worker()];
    let computations = 0;
    const compute = async () => {
      computations++;
      await sleep(150); // long enough for every other caller to be waiting on the lease
      return { value: 'the answer', tokens: 42, model: 'sim-1', costUsd: 0.004 };
    };
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => singleFlight(i % 2 ? a : b, key('shared'), 3600, compute, { waitMs: 5000 })));
    expect(computations).toBe(1);
    expect(results.filter((r) => r.hit)).toHaveLength(19);
    expect(new Set(results.map((r) => r.value))).toEqual(new Set(['the answer']));
    await Promise.all([a.close(), b.close()]);
  });

  it('singleFlightMany: hits served, misses computed and put; what one process stored is what cache-service code reads', async () => {
    const a = await worker();
    const calls: string[] = [];
    const mine = (input: string) => key(input, { scope: 'usr_many' });
    const item = (input: string): SingleFlightItem<string> => ({ key: mine(input), ttlSeconds: 3600, compute: async () => (calls.push(input), { value: `computed ${input}`, tokens: 7, model: 'sim-1' }) });
    await a.put(mine('cached'), { value: 'from the cache', tokens: 40, model: 'sim-1' }, 3600);
    const results = await singleFlightMany(a, [item('cached'), item('new 1'), item('new 2')]);
    expect(results.map((r) => [r.value, r.hit])).toEqual([['from the cache', true], ['computed new 1', false], ['computed new 2', false]]);
    expect(calls).toEqual(['new 1', 'new 2']);

    const reader = readWriteCache({ redis: await connection(), db: db().sql, prefix, registry: createMetricsRegistry('cache-test'), logger });
    expect(JSON.parse((await reader.get({ v: 1, key: mine('new 2') }))!)).toMatchObject({ value: 'computed new 2', tokens: 7 });
    // The content tier lives in Redis alone (CACHE_DURABLE_TIERS defaults to the system tier).
    const [{ n }] = await db().query<{ n: string }>("SELECT count(*) AS n FROM ai_cache WHERE user_id = 'usr_many'");
    expect(Number(n)).toBe(0);
    const { tiers } = await reader.stats();
    expect([tiers.content.entries, tiers.content.hits, tiers.content.misses]).toEqual([3, 2, 2]);
    await a.close();
  });

  it('a released lease passes to a waiting process at once; a holder that never answers is waited out', async () => {
    const [a, b] = [await worker(), await worker()];
    const first = await a.lookup(key('handover'));
    if (first.hit || !first.lease) throw new Error('expected a lease');
    const waiting = b.lookup(key('handover'), 5000);
    await sleep(100);
    await a.releaseLease(key('handover'), first.lease.token);
    const second = await waiting;
    expect(second.hit === false && second.lease !== null && second.lease.token !== first.lease.token).toBe(true);

    expect(await b.lookup(key('handover'), 200)).toEqual({ hit: false, lease: null, reason: 'wait_timeout' });
    await Promise.all([a.close(), b.close()]);
  });

  it('fails open when its Redis does not answer: computed, marked unavailable, within the deadline', async () => {
    const a = await worker({ timeoutMs: 300 });
    for (const c of connections.slice(-2)) c.disconnect(); // the instance's own two connections
    const errors: string[] = [];
    const result = await singleFlight(a, key('no redis'), 3600, async () => ({ value: 'computed', tokens: 3, model: 'sim-1' }), { onCacheError: (_err, operation) => errors.push(operation) });
    expect(result).toEqual({ value: 'computed', tokens: 3, model: 'sim-1', hit: false, tier: 'content', cacheUnavailable: true });
    expect(errors).toEqual(['lookup']);
    await a.close();
  });
});
