import type { CacheKeyParts } from '@qv/contracts';
import { CredentialRefusedError, UnreachableError } from '@qv/http';
import { Redis } from '@qv/queue';
import { createTestDatabase, startService, testRedisPrefix, testRedisUrl, testServiceCredentials, type ServiceProcess, type TestDatabase } from '@qv/testing';
import { CacheClient } from './cache-client';
import { singleFlight, type Computed } from './single-flight';
import { singleFlightMany, type SingleFlightItem } from './single-flight-many';

let db: TestDatabase;
let prefix: string;
let service: ServiceProcess;
/** As the worker, the caller of single flight. */
let client: CacheClient;
/** As api-service, which may read the stats. */
let ops: CacheClient;
const credentials = testServiceCredentials();

const key = (input: string, overrides: Partial<CacheKeyParts> = {}): CacheKeyParts => ({
  tier: 'content',
  scope: 'usr_sf',
  task: 'summarize',
  model: 'sim-1',
  promptVersion: 'v1',
  input,
  ...overrides,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** An item of singleFlightMany whose computations are counted in `calls` under its input. */
const item = (calls: string[], input: string, overrides: Partial<SingleFlightItem<string>> = {}): SingleFlightItem<string> => ({
  key: key(input),
  ttlSeconds: 3600,
  compute: async () => {
    calls.push(input);
    return { value: `computed ${input}`, tokens: 11, model: 'sim-1', costUsd: 0.001 };
  },
  ...overrides,
});

beforeAll(async () => {
  db = await createTestDatabase();
  prefix = testRedisPrefix();
  service = await startService('cache-service', { DATABASE_URL: db.url, REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix, DB_POOL_SIZE: '3', SINGLE_FLIGHT_WAIT_MS: '5000', ...credentials.envOf('cache-service') });
  client = new CacheClient({ baseUrl: service.url, timeoutMs: 3000, maxWaitMs: 5000, credential: credentials.credentials['enrichment-worker'] });
  ops = new CacheClient({ baseUrl: service.url, timeoutMs: 3000, credential: credentials.credentials['api-service'] });
});

afterAll(async () => {
  await client?.close();
  await ops?.close();
  await service?.stop();
  const redis = new Redis(testRedisUrl());
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  await db?.drop();
});

describe('singleFlightMany', () => {
  it('one lookup for every key: hits served, misses computed in order and put with their leases; the answers in order', async () => {
    await client.put(key('many: cached'), { value: 'from the cache', tokens: 40, model: 'sim-1', costUsd: 0.002 }, 3600);
    const before = (await ops.stats()).tiers.content;
    const calls: string[] = [];
    const items = [item(calls, 'many: first'), item(calls, 'many: cached'), item(calls, 'many: third')];
    const results = await singleFlightMany(client, items);
    expect(calls).toEqual(['many: first', 'many: third']);
    expect(results).toEqual([
      { value: 'computed many: first', tokens: 11, model: 'sim-1', costUsd: 0.001, hit: false, tier: 'content' },
      { value: 'from the cache', tokens: 40, model: 'sim-1', costUsd: 0.002, hit: true, tier: 'content' },
      { value: 'computed many: third', tokens: 11, model: 'sim-1', costUsd: 0.001, hit: false, tier: 'content' },
    ]);
    const after = (await ops.stats()).tiers.content;
    expect([after.hits - before.hits, after.misses - before.misses]).toEqual([1, 2]);

    // Stored, and their leases completed: the next run is all hits, at once.
    const again = await singleFlightMany(client, items, { waitMs: 100 });
    expect(again.map((r) => [r.hit, r.value])).toEqual([[true, 'computed many: first'], [true, 'from the cache'], [true, 'computed many: third']]);
    expect(calls).toHaveLength(2);
  });

  it('concurrent callers of the same keys make one computation per key', async () => {
    const calls: string[] = [];
    const slow = (input: string) => item(calls, input, { compute: async () => (calls.push(input), await sleep(200), { value: `slow ${input}`, tokens: 5, model: 'sim-1' }) });
    const runs = await Promise.all(Array.from({ length: 5 }, () => singleFlightMany(client, [slow('many: shared a'), slow('many: shared b')])));
    expect(calls.sort()).toEqual(['many: shared a', 'many: shared b']);
    for (const run of runs) expect(run.map((r) => r.value)).toEqual(['slow many: shared a', 'slow many: shared b']);
    expect(runs.flat().filter((r) => r.hit)).toHaveLength(8);
  });

  it('callers of the same keys in opposite orders never wait on each other: one computation per key, no wait_timeout', async () => {
    for (let round = 0; round < 3; round++) {
      const calls: string[] = [];
      const slow = (input: string) => item(calls, input, { compute: async () => (calls.push(input), await sleep(100), { value: `slow ${input}`, tokens: 5, model: 'sim-1' }) });
      const [a, b, c] = ['a', 'b', 'c'].map((n) => `many: crossed ${round} ${n}`);
      // Two callers waiting on each other would each end their wait (4 s) with wait_timeout and compute
      // the key themselves: a key computed twice, fewer than 9 hits.
      const runs = await Promise.all([[a, b, c], [c, b, a], [b, c, a], [a, c, b]].map((order) => singleFlightMany(client, order.map(slow), { waitMs: 4000 })));
      expect(calls.sort()).toEqual([a, b, c]);
      expect(runs.flat().filter((r) => r.hit)).toHaveLength(9);
    }
  });

  it('a key held by another caller is waited for and served its value', async () => {
    const calls: string[] = [];
    const leader = singleFlight(client, key('many: led elsewhere'), 3600, async () => (await sleep(300), { value: 'the leader\'s', tokens: 3, model: 'sim-1' }));
    await sleep(100);
    const results = await singleFlightMany(client, [item(calls, 'many: beside the leader'), item(calls, 'many: led elsewhere')]);
    expect((await leader).hit).toBe(false);
    expect(calls).toEqual(['many: beside the leader']);
    expect(results.map((r) => [r.hit, r.value])).toEqual([[false, 'computed many: beside the leader'], [true, 'the leader\'s']]);
  });

  it('a failing computation is rethrown after what was computed is put, and every unused lease is given back', async () => {
    const calls: string[] = [];
    const failing = item(calls, 'many: fails', { compute: async () => (calls.push('many: fails'), Promise.reject(new Error('LLM said 500'))) });
    await expect(singleFlightMany(client, [item(calls, 'many: paid'), failing, item(calls, 'many: never run')])).rejects.toThrow('LLM said 500');
    expect(calls).toEqual(['many: paid', 'many: fails']);
    // The paid answer is cached; the other two leases are free: a lookup gets each (a lease still
    // held would make it wait its 3 s and answer wait_timeout, without a lease).
    expect((await client.get(key('many: paid'))).entry?.value).toBe('computed many: paid');
    for (const input of ['many: fails', 'many: never run']) {
      const lookup = await client.lookup(key(input), 3000);
      expect(lookup.hit === false && lookup.lease !== null).toBe(true);
      if (!lookup.hit && lookup.lease) await client.releaseLease(key(input), lookup.lease.token);
    }
  });

  it('recomputes and overwrites a hit that no longer parses', async () => {
    await client.put(key('many: old shape'), { value: 42, tokens: 1, model: 'sim-1' }, 3600);
    const calls: string[] = [];
    const parse = (value: unknown) => {
      if (typeof value !== 'string') throw new Error('not a string');
      return value;
    };
    const [result] = await singleFlightMany(client, [item(calls, 'many: old shape', { parse })]);
    expect([result.hit, result.value, calls]).toEqual([false, 'computed many: old shape', ['many: old shape']]);
    expect((await client.get(key('many: old shape'))).entry?.value).toBe('computed many: old shape');
  });

  it('does not ask the cache for keys whose plan has no TTL; asks nothing at all when none has one', async () => {
    const before = (await ops.stats()).tiers;
    const calls: string[] = [];
    const noTtl = (input: string) => item(calls, input, { key: key(input, { tier: 'session' }), ttlSeconds: null });
    const none = await singleFlightMany(client, [noTtl('many: free 1'), noTtl('many: free 2')]);
    expect(none.map((r) => [r.hit, r.tier, r.cacheUnavailable])).toEqual([[false, 'session', undefined], [false, 'session', undefined]]);
    const mixed = await singleFlightMany(client, [noTtl('many: free 3'), item(calls, 'many: paid plan')]);
    expect(mixed.map((r) => r.hit)).toEqual([false, false]);
    expect(calls).toEqual(['many: free 1', 'many: free 2', 'many: free 3', 'many: paid plan']);
    const after = (await ops.stats()).tiers;
    expect([after.session.hits - before.session.hits, after.session.misses - before.session.misses, after.content.misses - before.content.misses]).toEqual([0, 0, 1]);
    expect((await client.get(key('many: free 3', { tier: 'session' }))).hit).toBe(false);
  });

  it('refuses a key whose scope does not fit its tier before calling anything', async () => {
    const calls: string[] = [];
    await expect(singleFlightMany(client, [item(calls, 'ok'), item(calls, 'x', { key: key('x', { scope: 'global' }) })])).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(calls).toEqual([]);
  });
});

describe('singleFlight', () => {
  it('20 concurrent misses on one key make exactly one computation; 19 are served as hits', async () => {
    const before = (await ops.stats()).tiers.content;
    let invocations = 0;
    const compute = async (): Promise<Computed<string>> => {
      invocations++;
      await sleep(300);
      return { value: 'the summary', tokens: 250, model: 'sim-1', costUsd: 0.005 };
    };
    const results = await Promise.all(Array.from({ length: 20 }, () => singleFlight(client, key('one key, twenty callers'), 3600, compute)));

    expect(invocations).toBe(1);
    expect(results.map((r) => r.value)).toEqual(Array(20).fill('the summary'));
    expect(results.filter((r) => r.hit)).toHaveLength(19);
    expect(results.filter((r) => r.cacheUnavailable)).toHaveLength(0);
    for (const r of results) expect([r.tier, r.tokens, r.model, r.costUsd]).toEqual(['content', 250, 'sim-1', 0.005]);

    const after = (await ops.stats()).tiers.content;
    expect(after.hits - before.hits).toBe(19);
    expect(after.misses - before.misses).toBe(1);
    expect(after.tokensSaved - before.tokensSaved).toBe(19 * 250);
    expect(after.costSavedUsd - before.costSavedUsd).toBeCloseTo(19 * 0.005, 9);

    // A later call is a plain hit.
    const again = await singleFlight(client, key('one key, twenty callers'), 3600, compute);
    expect([again.hit, again.value, invocations]).toEqual([true, 'the summary', 1]);
  });

  it('a failing leader gives its lease back: a waiter computes, the rest get its result, nothing deadlocks', async () => {
    let invocations = 0;
    const compute = async (): Promise<Computed<string>> => {
      const n = ++invocations;
      await sleep(200);
      if (n === 1) throw new Error('LLM said 500');
      return { value: `attempt ${n}`, tokens: 10, model: 'sim-1' };
    };
    const started = Date.now();
    const settled = await Promise.allSettled(Array.from({ length: 5 }, () => singleFlight(client, key('leader fails'), 3600, compute)));
    const elapsed = Date.now() - started;

    const rejected = settled.filter((s) => s.status === 'rejected');
    const fulfilled = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    expect(rejected).toHaveLength(1);
    expect(((rejected[0] as PromiseRejectedResult).reason as Error).message).toBe('LLM said 500');
    expect(invocations).toBe(2);
    expect(fulfilled.map((r) => r.value)).toEqual(Array(4).fill('attempt 2'));
    expect(fulfilled.filter((r) => r.hit)).toHaveLength(3);
    // Released, not waited out: well under the 5 s wait and the 30 s lease.
    expect(elapsed).toBeLessThan(2000);
  });

  it('a holder that never answers makes waiters time out and compute on their own', async () => {
    const k = key('holder crashed');
    const held = await client.lookup(k);
    expect(held.hit).toBe(false);
    if (held.hit || !held.lease) throw new Error('expected a lease');

    const started = Date.now();
    expect(await client.lookup(k, 300)).toEqual({ hit: false, lease: null, reason: 'wait_timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);

    let invocations = 0;
    const alone = await singleFlight(client, k, 3600, async () => ({ value: `alone ${++invocations}`, tokens: 5, model: 'sim-1' }), { waitMs: 200 });
    expect([alone.value, alone.hit, alone.cacheUnavailable]).toEqual(['alone 1', false, undefined]);
    // Its put (without the lease) still stored the value for the next caller.
    expect((await client.get(k)).entry?.value).toBe('alone 1');
    // The stale token can no longer be used to release someone else's lease.
    expect(await client.releaseLease(k, 'not-the-token')).toEqual({ released: false });
    expect(await client.releaseLease(k, held.lease.token)).toEqual({ released: true });
  });

  it('a released lease passes at once to a waiting lookup', async () => {
    const k = key('lease handover');
    const first = await client.lookup(k);
    if (first.hit || !first.lease) throw new Error('expected a lease');
    const waiting = client.lookup(k, 30_000);
    await sleep(100);
    const started = Date.now();
    await client.releaseLease(k, first.lease.token);
    const second = await waiting;
    // Handed over, not timed out: far inside the 30 s the lookup would wait (well under 100 ms on a
    // quiet machine; the bound only has to separate a handover from the timeout on a loaded one).
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(second.hit).toBe(false);
    expect(second.hit === false && second.lease !== null && second.lease.token !== first.lease.token).toBe(true);
  });

  it('does not ask the cache when the plan has no TTL for the tier (free, payg)', async () => {
    const before = (await ops.stats()).tiers.session;
    let invocations = 0;
    const compute = async () => ({ value: ++invocations, tokens: 3, model: 'sim-1' });
    const a = await singleFlight(client, key('free plan', { tier: 'session' }), null, compute);
    const b = await singleFlight(client, key('free plan', { tier: 'session' }), null, compute);
    expect([a.value, a.hit, b.value, b.hit]).toEqual([1, false, 2, false]);
    const after = (await ops.stats()).tiers.session;
    expect([after.hits - before.hits, after.misses - before.misses, after.entries]).toEqual([0, 0, 0]);
  });

  it('refuses a key whose scope does not fit its tier before calling anything', async () => {
    let invocations = 0;
    await expect(singleFlight(client, key('x', { scope: 'global' }), 60, async () => ({ value: ++invocations, tokens: 0, model: 'm' }))).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    expect(invocations).toBe(0);
  });

  it('fails open when its credential is refused: computes, and says the cache was unavailable', async () => {
    for (const credential of [undefined, 'x'.repeat(43), credentials.credentials.metrics]) {
      const refused = new CacheClient({ baseUrl: service.url, timeoutMs: 3000, credential });
      try {
        await expect(refused.get(key('refused'))).rejects.toBeInstanceOf(CredentialRefusedError);
        const errors: string[] = [];
        const result = await singleFlight(refused, key('refused'), 3600, async () => ({ value: 'computed', tokens: 9, model: 'sim-1' }), {
          onCacheError: (err, operation) => errors.push(`${operation}:${(err as Error).name}:${(err as CredentialRefusedError).status}`),
        });
        expect(result).toEqual({ value: 'computed', tokens: 9, model: 'sim-1', hit: false, tier: 'content', cacheUnavailable: true });
        expect(errors).toEqual([`lookup:CredentialRefusedError:${credential === credentials.credentials.metrics ? 403 : 401}`]);
      } finally {
        await refused.close();
      }
    }
    // Nothing was stored under the refused credentials.
    expect((await client.get(key('refused'))).hit).toBe(false);
  });

  it('fails open when cache-service is down: computes, and says the cache was unavailable', async () => {
    // Gone between the many-lookup and the many-put: the values are still answered.
    const putErrors: string[] = [];
    const calls: string[] = [];
    const goneAfterLookup = await singleFlightMany(client, [item(calls, 'many: service goes', { compute: async () => (await service.stop(), { value: 'made', tokens: 2, model: 'sim-1' }) })], {
      onCacheError: (err, operation) => putErrors.push(`${operation}:${(err as Error).name}`),
    });
    expect(goneAfterLookup).toEqual([{ value: 'made', tokens: 2, model: 'sim-1', hit: false, tier: 'content', cacheUnavailable: true }]);
    expect(putErrors).toEqual(['put:UnreachableError', 'releaseLease:UnreachableError']);

    const manyErrors: string[] = [];
    const down = await singleFlightMany(client, [item(calls, 'many: down 1'), item(calls, 'many: down 2', { key: key('many: down 2', { tier: 'session' }), ttlSeconds: null })], {
      onCacheError: (err, operation) => manyErrors.push(`${operation}:${(err as Error).name}`),
    });
    expect(down.map((r) => [r.value, r.hit, r.cacheUnavailable])).toEqual([['computed many: down 1', false, true], ['computed many: down 2', false, undefined]]);
    expect(manyErrors).toEqual(['lookup:UnreachableError']);

    await expect(client.get(key('down'))).rejects.toBeInstanceOf(UnreachableError);
    const errors: string[] = [];
    let invocations = 0;
    const result = await singleFlight(client, key('down'), 3600, async () => ({ value: `computed ${++invocations}`, tokens: 9, model: 'sim-1' }), {
      onCacheError: (err, operation) => errors.push(`${operation}:${(err as Error).name}`),
    });
    expect(result).toEqual({ value: 'computed 1', tokens: 9, model: 'sim-1', hit: false, tier: 'content', cacheUnavailable: true });
    expect(errors).toEqual(['lookup:UnreachableError']);
  });
});
