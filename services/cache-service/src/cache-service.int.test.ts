import { execFileSync } from 'node:child_process';
import { CacheClient, cacheKey } from '@qv/cache-client';
import type { CacheEntryValue, CacheKeyParts, CacheStats } from '@qv/contracts';
import { Redis } from '@qv/queue';
import { createTestDatabase, startService, testRedisPrefix, testRedisUrl, testServiceCredentials, type ServiceProcess, type TestDatabase } from '@qv/testing';

let db: TestDatabase;
let prefix: string;
let redis: Redis;
let service: ServiceProcess;
/** As the worker: reads and fills the cache. */
let client: CacheClient;
/** As api-service: stats, purge, warm, delete (the rights of each are e2e/internal-auth's). */
let ops: CacheClient;
const credentials = testServiceCredentials();

function key(overrides: Partial<CacheKeyParts> = {}): CacheKeyParts {
  return { tier: 'content', scope: 'usr_a', task: 'summarize', model: 'sim-1', promptVersion: 'v1', input: 'The quick brown fox', ...overrides };
}
const entry = (value: unknown, tokens = 120, extra: Partial<CacheEntryValue> = {}): CacheEntryValue => ({ value, tokens, model: 'sim-1', ...extra });
const redisKeyOf = (k: CacheKeyParts) => `${prefix}:cache:${k.tier}:${k.scope}:${cacheKey(k)}`;
/** The marker a warm sets while Redis holds every live entry. */
const completeKey = () => `${prefix}:cache-complete`;
/** Redis lost these entries (a restart, a flush): the complete marker goes with them. */
const loseFromRedis = (...keys: CacheKeyParts[]) => redis.del(...keys.map(redisKeyOf), completeKey());

async function start(): Promise<void> {
  service = await startService('cache-service', {
    DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: prefix,
    CACHE_CLEANUP_INTERVAL_MS: '300',
    // Every tier durable: this file tests the PostgreSQL copy (cache-durability.int.test.ts the default).
    CACHE_DURABLE_TIERS: 'system,session,content',
    CACHE_ENTRY_COUNT_MAX_AGE_MS: '0',
    DB_POOL_SIZE: '3',
    ...credentials.envOf('cache-service'),
  });
  client = new CacheClient({ baseUrl: service.url, timeoutMs: 5000, credential: credentials.credentials['enrichment-worker'] });
  ops = new CacheClient({ baseUrl: service.url, timeoutMs: 5000, credential: credentials.credentials['api-service'] });
}

/** Deletes this file's keys only: other test files share the Redis server. */
async function flushOurKeys(): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) n += await redis.del(...keys);
  } while (cursor !== '0');
  return n;
}

async function post(path: string, body: unknown, as: 'enrichment-worker' | 'api-service' = 'enrichment-worker'): Promise<{ status: number; json: any }> {
  const res = await fetch(service.url + path, { method: 'POST', headers: { ...credentials.as(as), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

beforeAll(async () => {
  db = await createTestDatabase();
  prefix = testRedisPrefix();
  redis = new Redis(testRedisUrl());
  await start();
});

afterAll(async () => {
  await client?.close();
  await ops?.close();
  await service?.stop();
  await flushOurKeys();
  redis.disconnect();
  await db?.drop();
});

describe('put and get', () => {
  it.each([
    ['system', 'global', null],
    ['session', 'usr_a', 1800],
    ['content', 'usr_a', 3600],
  ] as const)('stores and serves the %s tier (Redis and PostgreSQL)', async (tier, scope, ttl) => {
    const k = key({ tier, scope, task: `t-${tier}` });
    expect(await client.get(k)).toEqual({ hit: false, entry: null });
    expect(await client.put(k, entry({ summary: `for ${tier}` }, 77, { costUsd: 0.0012 }), ttl)).toEqual({ stored: true });
    expect(await client.get(k)).toEqual({ hit: true, entry: { value: { summary: `for ${tier}` }, tokens: 77, model: 'sim-1', costUsd: 0.0012 } });

    const pttl = await redis.pttl(redisKeyOf(k));
    if (ttl === null) expect(pttl).toBe(-1);
    else expect(pttl).toBeGreaterThan((ttl - 5) * 1000);
    const rows = await db.query<{ type: string; user_id: string; tokens: number; permanent: boolean }>(
      'SELECT type, user_id, tokens, expires_at IS NULL AS permanent FROM ai_cache WHERE cache_key = $1',
      [cacheKey(k)],
    );
    expect(rows).toEqual([{ type: tier, user_id: scope, tokens: 77, permanent: ttl === null }]);
  });

  it("never serves one user's session or content entry to another", async () => {
    for (const tier of ['session', 'content'] as const) {
      await client.put(key({ tier, scope: 'usr_a', input: 'private notes' }), entry('A only'), 600);
      expect((await client.get(key({ tier, scope: 'usr_a', input: 'private notes' }))).hit).toBe(true);
      expect(await client.get(key({ tier, scope: 'usr_b', input: 'private notes' }))).toEqual({ hit: false, entry: null });
    }
  });

  it('misses when the prompt version or the model differs', async () => {
    await client.put(key({ input: 'versioned' }), entry('v1 answer'), 600);
    expect((await client.get(key({ input: 'versioned' }))).hit).toBe(true);
    expect((await client.get(key({ input: 'versioned', promptVersion: 'v2' }))).hit).toBe(false);
    expect((await client.get(key({ input: 'versioned', model: 'sim-2' }))).hit).toBe(false);
  });

  it('hits on whitespace and Unicode-composition variants of the input, not on case variants', async () => {
    await client.put(key({ input: 'Caf\u00e9   au lait' }), entry('coffee'), 600);
    expect((await client.get(key({ input: '  Cafe\u0301 au\n\tlait ' }))).entry?.value).toBe('coffee');
    expect((await client.get(key({ input: 'café au lait' }))).hit).toBe(false);
  });

  it('refuses scopes that do not fit the tier with 400 VALIDATION_FAILED', async () => {
    const global = await post('/internal/cache/put', { v: 1, key: key({ tier: 'content', scope: 'global' }), entry: entry('x'), ttlSeconds: 60 });
    expect(global.status).toBe(400);
    expect(global.json.error.code).toBe('VALIDATION_FAILED');
    expect(global.json.error.message).toMatch(/never "global"/);
    const system = await post('/internal/cache/get', { v: 1, key: key({ tier: 'system', scope: 'usr_a' }) });
    expect(system.status).toBe(400);
    const pattern = await post('/internal/cache/get', { v: 1, key: key({ scope: 'usr_*' }) });
    expect(pattern.status).toBe(400);
    const missingVersion = await post('/internal/cache/get', { key: key() });
    expect(missingVersion.status).toBe(400);
  });

  it('stores nothing for a session/content put without a TTL (free and payg plans)', async () => {
    const k = key({ input: 'no ttl plan' });
    expect(await client.put(k, entry('x'), null)).toEqual({ stored: false });
    expect(await post('/internal/cache/put', { v: 1, key: k, entry: entry('x') })).toEqual({ status: 200, json: { stored: false } });
    expect((await client.get(k)).hit).toBe(false);
    expect(await db.query('SELECT 1 FROM ai_cache WHERE cache_key = $1', [cacheKey(k)])).toHaveLength(0);
  });

  it('deletes one entry from Redis and PostgreSQL', async () => {
    const k = key({ input: 'to delete' });
    await client.put(k, entry('x'), 600);
    expect(await ops.delete(k)).toEqual({ deleted: true });
    expect((await client.get(k)).hit).toBe(false);
    expect(await ops.delete(k)).toEqual({ deleted: false });
  });
});

describe('lookup-many and put-many', () => {
  const statsOf = async () => (await ops.stats()).tiers;
  const leaseKeyOf = (k: CacheKeyParts) => `${prefix}:cache-lease:${k.tier}:${k.scope}:${cacheKey(k)}`;

  it('answers misses with leases in order, stores them with put-many, then serves them as hits in order', async () => {
    const keys = [key({ input: 'many 1' }), key({ tier: 'session', input: 'many 2' }), key({ task: 'tag', input: 'many 3' })];
    const before = await statsOf();
    const misses = await client.lookupMany(keys, 0);
    expect(misses.map((r) => r.hit)).toEqual([false, false, false]);
    const tokens = misses.map((r) => (!r.hit && r.lease ? r.lease.token : ''));
    expect(new Set(tokens).size).toBe(3);
    for (const k of keys) expect(await redis.exists(leaseKeyOf(k))).toBe(1);

    const stored = await client.putMany(keys.map((k, i) => ({ key: k, entry: entry({ n: i }, 10 * (i + 1), { costUsd: 0.001 * (i + 1) }), ttlSeconds: 600, leaseToken: tokens[i] })));
    expect(stored).toEqual([true, true, true]);
    for (const k of keys) expect(await redis.exists(leaseKeyOf(k))).toBe(0);
    expect(await db.query('SELECT tokens FROM ai_cache WHERE cache_key = ANY($1) ORDER BY tokens', [keys.map(cacheKey)])).toEqual([{ tokens: 10 }, { tokens: 20 }, { tokens: 30 }]);

    const reversed = [...keys].reverse();
    const hits = await client.lookupMany(reversed, 0);
    expect(hits).toEqual([2, 1, 0].map((n) => ({ hit: true, entry: entry({ n }, 10 * (n + 1), { costUsd: 0.001 * (n + 1) }) })));

    const after = await statsOf();
    expect(after.content.misses - before.content.misses).toBe(2);
    expect(after.session.misses - before.session.misses).toBe(1);
    expect(after.content.hits - before.content.hits).toBe(2);
    expect(after.session.hits - before.session.hits).toBe(1);
    expect(after.content.tokensSaved - before.content.tokensSaved).toBe(10 + 30);
    expect(after.content.costSavedUsd - before.content.costSavedUsd).toBeCloseTo(0.004, 9);
  });

  it('keeps the order of hits and misses mixed, and sends each hit as it was stored', async () => {
    const a = key({ input: 'mixed a' });
    const b = key({ input: 'mixed b' });
    const c = key({ input: 'mixed c' });
    await client.put(b, entry({ kept: 'as stored', n: 1.5 }, 7), 600);
    const res = await fetch(`${service.url}/internal/cache/lookup-many`, {
      method: 'POST',
      headers: { ...credentials.as('enrichment-worker'), 'content-type': 'application/json' },
      body: JSON.stringify({ v: 1, keys: [a, b, c], waitMs: 0 }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain(`{"hit":true,"entry":${await redis.get(redisKeyOf(b))}}`);
    const { results } = JSON.parse(text);
    expect(results.map((r: { hit: boolean }) => r.hit)).toEqual([false, true, false]);
    expect(results[0].lease.token).not.toBe(results[2].lease.token);
  });

  it('a key whose lease another caller holds waits for its value; the others are answered with it', async () => {
    const held = key({ input: 'held elsewhere' });
    const free = key({ input: 'free beside it' });
    const first = await client.lookup(held);
    if (first.hit || !first.lease) throw new Error('expected a lease');
    const waiting = client.lookupMany([free, held], 5000);
    await new Promise((r) => setTimeout(r, 150));
    expect(await client.put(held, entry('from the holder'), 600, first.lease.token)).toEqual({ stored: true });
    const [freeResult, heldResult] = await waiting;
    expect(freeResult.hit === false && freeResult.lease !== null).toBe(true);
    expect(heldResult).toEqual({ hit: true, entry: entry('from the holder') });
  });

  it('answers wait_timeout for a key held past the wait, as lookup does', async () => {
    const held = key({ input: 'held too long' });
    const first = await client.lookup(held);
    expect(first.hit).toBe(false);
    const started = Date.now();
    expect(await client.lookupMany([held], 200)).toEqual([{ hit: false, lease: null, reason: 'wait_timeout' }]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('serves the system tier from PostgreSQL after Redis lost it, and re-warms it', async () => {
    const sys = key({ tier: 'system', scope: 'global', task: 'many-system', input: 'durable prompt' });
    await client.putMany([{ key: sys, entry: entry('DURABLE', 0), ttlSeconds: null }]);
    await loseFromRedis(sys);
    expect(await client.lookupMany([sys, key({ input: 'beside the system key' })], 0)).toEqual([{ hit: true, entry: entry('DURABLE', 0) }, expect.objectContaining({ hit: false })]);
    expect(await redis.pttl(redisKeyOf(sys))).toBe(-1);
  });

  it('stores nothing for a session/content put without a TTL and gives its lease back', async () => {
    const noTtl = key({ input: 'many, no ttl' });
    const withTtl = key({ input: 'many, with ttl' });
    const [lookup] = await client.lookupMany([noTtl], 0);
    if (lookup.hit || !lookup.lease) throw new Error('expected a lease');
    expect(await client.putMany([{ key: noTtl, entry: entry('x'), ttlSeconds: null, leaseToken: lookup.lease.token }, { key: withTtl, entry: entry('y'), ttlSeconds: 60 }])).toEqual([false, true]);
    expect(await redis.exists(leaseKeyOf(noTtl), redisKeyOf(noTtl))).toBe(0);
    expect(await db.query('SELECT 1 FROM ai_cache WHERE cache_key = $1', [cacheKey(noTtl)])).toHaveLength(0);
    expect((await client.get(withTtl)).hit).toBe(true);
  });

  it('refuses a bad body with 400 and changes nothing: a bad key among good ones, the same key twice, 17 keys, no keys', async () => {
    const good = key({ input: 'never touched' });
    const before = await statsOf();
    const bodies = [
      { v: 1, keys: [good, key({ scope: 'global' })] },
      { v: 1, keys: [good, { ...good }] },
      { v: 1, keys: Array.from({ length: 17 }, (_, i) => key({ input: `seventeen ${i}` })) },
      { v: 1, keys: [] },
      { keys: [good] },
    ];
    for (const body of bodies) {
      const res = await post('/internal/cache/lookup-many', body);
      expect([res.status, res.json.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    }
    const puts = [
      { v: 1, puts: [{ key: good, entry: entry('x'), ttlSeconds: 60 }, { key: key({ scope: 'usr_*' }), entry: entry('y'), ttlSeconds: 60 }] },
      { v: 1, puts: [{ key: good, entry: entry('x'), ttlSeconds: 60 }, { key: good, entry: entry('y'), ttlSeconds: 60 }] },
      { v: 1, puts: [{ key: good, entry: entry('x'), ttlSeconds: 60 }, { key: key({ input: 'bad entry' }), entry: { value: 1, tokens: -1, model: 'm' }, ttlSeconds: 60 }] },
      { v: 1, puts: Array.from({ length: 17 }, (_, i) => ({ key: key({ input: `seventeen ${i}` }), entry: entry(i), ttlSeconds: 60 })) },
    ];
    for (const body of puts) {
      const res = await post('/internal/cache/put-many', body);
      expect([res.status, res.json.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    }
    expect(await redis.exists(redisKeyOf(good), leaseKeyOf(good), redisKeyOf(key({ input: 'seventeen 0' })), leaseKeyOf(key({ input: 'seventeen 0' })))).toBe(0);
    expect(await db.query('SELECT 1 FROM ai_cache WHERE cache_key = ANY($1)', [[cacheKey(good), cacheKey(key({ input: 'seventeen 0' }))]])).toHaveLength(0);
    const after = await statsOf();
    expect([after.content.hits, after.content.misses]).toEqual([before.content.hits, before.content.misses]);
    // 16 is the most, and is fine.
    expect(await client.lookupMany(Array.from({ length: 16 }, (_, i) => key({ input: `sixteen ${i}` })), 0)).toHaveLength(16);
  });

  it('lookup-many and put-many are the worker\'s alone', async () => {
    const k = key({ input: 'rights of the many routes' });
    expect((await post('/internal/cache/lookup-many', { v: 1, keys: [k] }, 'api-service')).status).toBe(403);
    expect((await post('/internal/cache/put-many', { v: 1, puts: [{ key: k, entry: entry('z'), ttlSeconds: 60 }] }, 'api-service')).status).toBe(403);
    expect(await post('/internal/cache/put-many', { v: 1, puts: [{ key: k, entry: entry('z'), ttlSeconds: 60 }] })).toEqual({ status: 200, json: { stored: [true] } });
  });
});

describe('one-key lookup: one Redis round trip, then PostgreSQL for the lease holder only', () => {
  const contentStats = async () => (await ops.stats()).tiers.content;
  const leaseKeyOf = (k: CacheKeyParts) => `${prefix}:cache-lease:${k.tier}:${k.scope}:${cacheKey(k)}`;
  const metric = async (name: string, labels: string) => {
    const text = await (await fetch(`${service.url}/metrics`, { headers: credentials.as('metrics') })).text();
    const prefixOf = `${name}{${labels},service="cache-service"} `;
    const line = text.split('\n').find((l) => l.startsWith(prefixOf));
    return line ? Number(line.slice(prefixOf.length)) : 0;
  };
  const ways = {
    lookup: (k: CacheKeyParts, waitMs: number) => client.lookup(k, waitMs),
    'lookup-many of one key': async (k: CacheKeyParts, waitMs: number) => (await client.lookupMany([k], waitMs))[0],
  };

  it.each(
    (Object.keys(ways) as (keyof typeof ways)[]).flatMap((way) => [
      [way, 'complete', 0],
      [way, 'not complete', 1],
    ] as const),
  )('%s: a miss counts one miss and grants the lease; Redis %s, PostgreSQL asked %d time(s)', async (way, state, asked) => {
    const k = key({ input: `one-key miss, ${way}, ${state}` });
    await ops.warm(); // marks Redis complete
    if (state === 'not complete') await redis.del(completeKey());
    const before = await contentStats();
    const granted = await metric('cache_single_flight_leases_total', 'tier="content",event="granted"');
    const pgMisses = await metric('cache_postgres_fallbacks_total', 'tier="content",result="miss"');
    const result = await ways[way](k, 0);
    if (result.hit || !result.lease) throw new Error('expected a lease');
    expect(await redis.get(leaseKeyOf(k))).toBe(result.lease.token);
    expect(await redis.pttl(leaseKeyOf(k))).toBeGreaterThan(0);
    const after = await contentStats();
    expect([after.hits - before.hits, after.misses - before.misses]).toEqual([0, 1]);
    expect(await metric('cache_single_flight_leases_total', 'tier="content",event="granted"')).toBe(granted + 1);
    expect(await metric('cache_postgres_fallbacks_total', 'tier="content",result="miss"')).toBe(pgMisses + asked);
    expect(await client.releaseLease(k, result.lease.token)).toEqual({ released: true });
  });

  it.each(Object.keys(ways) as (keyof typeof ways)[])(
    '%s: an entry only in PostgreSQL is one hit (not a hit and a miss), re-warmed, its lease given back',
    async (way) => {
      const k = key({ input: `only in PostgreSQL, ${way}` });
      const stored = entry('DURABLE', 50, { costUsd: 0.003 });
      await client.put(k, stored, 600);
      await loseFromRedis(k);
      const before = await contentStats();
      const granted = await metric('cache_single_flight_leases_total', 'tier="content",event="granted"');
      const pgHits = await metric('cache_postgres_fallbacks_total', 'tier="content",result="hit"');

      expect(await ways[way](k, 0)).toEqual({ hit: true, entry: stored });
      const pttl = await redis.pttl(redisKeyOf(k));
      expect(pttl).toBeGreaterThan(590_000);
      expect(pttl).toBeLessThanOrEqual(600_000);
      expect(await redis.exists(leaseKeyOf(k))).toBe(0);
      const after = await contentStats();
      expect([after.hits - before.hits, after.misses - before.misses, after.tokensSaved - before.tokensSaved]).toEqual([1, 0, 50]);
      expect(after.costSavedUsd - before.costSavedUsd).toBeCloseTo(0.003, 9);
      expect(await metric('cache_postgres_fallbacks_total', 'tier="content",result="hit"')).toBe(pgHits + 1);
      expect(await metric('cache_single_flight_leases_total', 'tier="content",event="granted"')).toBe(granted);

      // The second lookup is a plain Redis hit: with the row gone from PostgreSQL, Redis alone serves it.
      await db.query('DELETE FROM ai_cache WHERE cache_key = $1', [cacheKey(k)]);
      expect(await ways[way](k, 5000)).toEqual({ hit: true, entry: stored });
      const last = await contentStats();
      expect([last.hits - before.hits, last.misses - before.misses]).toEqual([2, 0]);
    },
  );

  it('while Redis is complete a Redis miss is a miss, PostgreSQL not asked; once Redis lost the marker, PostgreSQL serves it', async () => {
    const k = key({ input: 'in PostgreSQL, not in a complete Redis' });
    await client.put(k, entry('KEPT', 10), 600);
    await ops.warm();
    await redis.del(redisKeyOf(k)); // the marker stays: Redis claims to hold every live entry
    const fallbacks = () => Promise.all(['hit', 'miss'].map((result) => metric('cache_postgres_fallbacks_total', `tier="content",result="${result}"`)));
    const before = await fallbacks();
    expect(await client.get(k)).toEqual({ hit: false, entry: null });
    expect(await client.lookupMany([k, key({ input: 'a second key' })], 0)).toEqual([expect.objectContaining({ hit: false }), expect.objectContaining({ hit: false })]);
    expect(await fallbacks()).toEqual(before);
    await redis.del(completeKey());
    expect(await client.get(k)).toEqual({ hit: true, entry: entry('KEPT', 10) });
    expect(await fallbacks()).toEqual([before[0] + 1, before[1]]);
    expect(await redis.exists(redisKeyOf(k))).toBe(1);
  });

  it('concurrent lookups of an entry only in PostgreSQL are all hits, none waiting for a lease', async () => {
    const k = key({ input: 'only in PostgreSQL, concurrently' });
    await client.put(k, entry('DURABLE', 20), 600);
    await loseFromRedis(k);
    const before = await contentStats();
    // A lookup left waiting for a lease nobody gives back would end its 5 s with wait_timeout, not a hit.
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? ways.lookup(k, 5000) : ways['lookup-many of one key'](k, 5000))));
    for (const r of results) expect(r).toEqual({ hit: true, entry: entry('DURABLE', 20) });
    expect(await redis.exists(leaseKeyOf(k))).toBe(0);
    const after = await contentStats();
    expect([after.hits - before.hits, after.misses - before.misses, after.tokensSaved - before.tokensSaved]).toEqual([8, 0, 160]);
  });

  it('concurrent lookups of one missing key: exactly one gets the lease, the others its result', async () => {
    const k = key({ input: 'missing, concurrently' });
    const before = await contentStats();
    const lookups = Array.from({ length: 8 }, (_, i) => (i % 2 ? ways.lookup(k, 5000) : ways['lookup-many of one key'](k, 5000)));
    const holder = await Promise.race(lookups.map((p, i) => p.then((r) => ({ r, i }))));
    if (holder.r.hit || !holder.r.lease) throw new Error('expected the first answer to be the lease');
    expect(await redis.get(leaseKeyOf(k))).toBe(holder.r.lease.token);
    await new Promise((r) => setTimeout(r, 100));
    expect(await client.put(k, entry('computed once'), 600, holder.r.lease.token)).toEqual({ stored: true });
    const results = await Promise.all(lookups);
    expect(results.filter((r) => !r.hit)).toEqual([holder.r]);
    for (const r of results.filter((x) => x.hit)) expect(r).toEqual({ hit: true, entry: entry('computed once') });
    const after = await contentStats();
    expect([after.hits - before.hits, after.misses - before.misses]).toEqual([7, 1]);
  });

  it('concurrent lookups of one missing key past their wait: one lease, the others wait_timeout', async () => {
    const k = key({ input: 'missing, concurrently, nobody fills it' });
    const before = await contentStats();
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? ways.lookup(k, 300) : ways['lookup-many of one key'](k, 300))));
    const leases = results.filter((r) => !r.hit && r.lease);
    expect(leases).toHaveLength(1);
    expect(results.filter((r) => !r.hit && r.lease === null && r.reason === 'wait_timeout')).toHaveLength(5);
    const after = await contentStats();
    expect([after.hits - before.hits, after.misses - before.misses]).toEqual([0, 6]);
  });
});

describe('expiry', () => {
  it('misses once the TTL has passed, and the cleanup job removes the expired row', async () => {
    const k = key({ tier: 'session', input: 'short lived' });
    await client.put(k, entry('soon gone'), 1);
    expect((await client.get(k)).hit).toBe(true);
    await new Promise((r) => setTimeout(r, 1200));
    expect(await client.get(k)).toEqual({ hit: false, entry: null });
    const deadline = Date.now() + 3000;
    let rows = 1;
    while (Date.now() < deadline && rows > 0) {
      rows = (await db.query('SELECT 1 FROM ai_cache WHERE cache_key = $1', [cacheKey(k)])).length;
      if (rows) await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows).toBe(0);
  });
});

describe('the system tier outlives Redis', () => {
  const sys = key({ tier: 'system', scope: 'global', task: 'system-prompt', input: 'You are a careful summarizer.' });

  it('serves from PostgreSQL after the Redis keys are gone, and re-warms the entry', async () => {
    await client.put(sys, entry('PROMPT', 0), null);
    expect(await flushOurKeys()).toBeGreaterThan(0);
    expect(await redis.exists(redisKeyOf(sys))).toBe(0);
    expect(await client.get(sys)).toEqual({ hit: true, entry: { value: 'PROMPT', tokens: 0, model: 'sim-1' } });
    expect(await redis.exists(redisKeyOf(sys))).toBe(1);
  });

  it('warm reloads every live entry of every tier into Redis for the time it has left, and marks Redis complete', async () => {
    const sys2 = { ...sys, input: 'Tag with at most five tags.' };
    const session = key({ tier: 'session', input: 'facts to warm' });
    await client.put(sys2, entry('TAGS', 0), null);
    await client.put(session, entry('FACTS', 30), 600);
    await flushOurKeys();
    expect(await redis.exists(completeKey())).toBe(0);
    const liveRows = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM ai_cache WHERE expires_at IS NULL OR expires_at > now()'))[0].n);
    expect(await ops.warm()).toEqual({ warmed: liveRows });
    expect(await redis.exists(redisKeyOf(sys), redisKeyOf(sys2), redisKeyOf(session), completeKey())).toBe(4);
    expect(await redis.pttl(redisKeyOf(sys2))).toBe(-1);
    const pttl = await redis.pttl(redisKeyOf(session));
    expect(pttl).toBeGreaterThan(590_000);
    expect(pttl).toBeLessThanOrEqual(600_000);
  });

  it('a restarted cache-service finding Redis empty warms it at start', async () => {
    await client.close();
    await ops.close();
    await service.stop();
    await flushOurKeys();
    await start();
    expect(await redis.exists(redisKeyOf(sys), completeKey())).toBe(2);
    expect(JSON.parse((await redis.get(redisKeyOf(sys)))!)).toEqual({ value: 'PROMPT', tokens: 0, model: 'sim-1' });
    expect((await client.get(sys)).hit).toBe(true);
  });

  it('a cache-service whose Redis connection came back to an empty Redis (a restart) warms it again', async () => {
    await flushOurKeys();
    // Drop the service's own connections to Redis, as a Redis restart would (other files share the server).
    const { hostname, port } = new URL(testRedisUrl());
    const ss = execFileSync('ss', ['-tnpH', 'state', 'established', 'dst', `${hostname}:${port}`], { encoding: 'utf8' });
    const ours = ss.split('\n').filter((line) => line.includes(`pid=${service.pid},`)).map((line) => line.trim().split(/\s+/)[2]);
    expect(ours.length).toBeGreaterThan(0);
    for (const addr of ours) await redis.client('KILL', 'ADDR', addr).catch(() => undefined);
    for (let i = 0; i < 100 && !(await redis.exists(completeKey())); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await redis.exists(redisKeyOf(sys), completeKey())).toBe(2);
  });
});

describe('stats', () => {
  const tierOf = (s: CacheStats, t: keyof CacheStats['tiers']) => s.tiers[t];

  it('counts exact hits, misses, entries, tokens and cost saved per tier', async () => {
    await ops.purge({});
    const before = await ops.stats();
    for (const t of ['system', 'session', 'content'] as const) expect(tierOf(before, t).entries).toBe(0);

    const content = key({ scope: 'usr_s', input: 'stats content' });
    const session = key({ tier: 'session', scope: 'usr_s', input: 'stats session' });
    const system = key({ tier: 'system', scope: 'global', input: 'stats system' });
    await client.put(content, entry('c', 100, { costUsd: 0.002 }), 600);
    await client.put(session, entry('s', 40), 600);
    await client.put(system, entry('y', 10, { costUsd: 0.0001 }), null);
    for (let i = 0; i < 3; i++) expect((await client.get(content)).hit).toBe(true);
    expect((await client.get({ ...content, input: 'other' })).hit).toBe(false);
    expect((await client.get(session, { costPerTokenUsd: 0.00001 })).hit).toBe(true);
    expect((await client.get({ ...session, input: 'nope 1' })).hit).toBe(false);
    expect((await client.get({ ...session, input: 'nope 2' })).hit).toBe(false);
    expect((await client.get(system)).hit).toBe(true);

    const after = await ops.stats();
    const expected = {
      content: { entries: 1, hits: 3, misses: 1, tokens: 300, cost: 0.006 },
      session: { entries: 1, hits: 1, misses: 2, tokens: 40, cost: 0.0004 },
      system: { entries: 1, hits: 1, misses: 0, tokens: 10, cost: 0.0001 },
    } as const;
    for (const t of ['system', 'session', 'content'] as const) {
      const b = tierOf(before, t);
      const a = tierOf(after, t);
      const e = expected[t];
      expect(a.entries).toBe(e.entries);
      expect(a.hits - b.hits).toBe(e.hits);
      expect(a.misses - b.misses).toBe(e.misses);
      expect(a.tokensSaved - b.tokensSaved).toBe(e.tokens);
      expect(a.costSavedUsd - b.costSavedUsd).toBeCloseTo(e.cost, 9);
      expect(a.hitRatio).toBeCloseTo(a.hits / (a.hits + a.misses), 12);
    }
  });

  it('purges by user and by tier, in Redis and PostgreSQL', async () => {
    await ops.purge({});
    for (const scope of ['usr_p1', 'usr_p2']) {
      await client.put(key({ scope, input: 'purge me' }), entry('c'), 600);
      await client.put(key({ tier: 'session', scope, input: 'purge me' }), entry('s'), 600);
    }
    await client.put(key({ tier: 'system', scope: 'global', input: 'purge me' }), entry('y'), null);

    expect(await ops.purge({ userId: 'usr_p1' })).toEqual({ purged: 2 });
    expect((await client.get(key({ scope: 'usr_p1', input: 'purge me' }))).hit).toBe(false);
    expect((await client.get(key({ tier: 'session', scope: 'usr_p1', input: 'purge me' }))).hit).toBe(false);
    expect((await client.get(key({ scope: 'usr_p2', input: 'purge me' }))).hit).toBe(true);
    expect(await db.query("SELECT 1 FROM ai_cache WHERE user_id = 'usr_p1'")).toHaveLength(0);

    expect(await ops.purge({ tier: 'session' })).toEqual({ purged: 1 });
    expect((await client.get(key({ tier: 'session', scope: 'usr_p2', input: 'purge me' }))).hit).toBe(false);
    expect((await client.get(key({ scope: 'usr_p2', input: 'purge me' }))).hit).toBe(true);

    expect(await ops.purge({ tier: 'system' })).toEqual({ purged: 1 });
    expect(await ops.purge({ tier: 'content', userId: 'usr_p2' })).toEqual({ purged: 1 });
    expect(await db.query('SELECT 1 FROM ai_cache')).toHaveLength(0);
    const stats = await ops.stats();
    expect([stats.tiers.system.entries, stats.tiers.session.entries, stats.tiers.content.entries]).toEqual([0, 0, 0]);

    const bad = await post('/internal/cache/purge', { userId: 'usr_*' }, 'api-service');
    expect(bad.status).toBe(400);
  });
});

describe('operations', () => {
  it('reports Redis and PostgreSQL readiness and exports per-tier metrics', async () => {
    const ready = await fetch(`${service.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { redis: 'ok', postgres: 'ok' } });

    const metric = async (labels: string) => {
      const text = await (await fetch(`${service.url}/metrics`, { headers: credentials.as('metrics') })).text();
      const line = text.split('\n').find((l) => l.startsWith(`${labels} `));
      return line ? Number(line.slice(labels.length + 1)) : 0;
    };
    const hit = 'cache_requests_total{tier="content",op="get",result="hit",service="cache-service"}';
    const miss = 'cache_requests_total{tier="content",op="get",result="miss",service="cache-service"}';
    const [hitsBefore, missesBefore] = [await metric(hit), await metric(miss)];
    const k = key({ input: 'metrics probe' });
    await client.put(k, entry('m'), 600);
    await client.get(k);
    await client.get(k);
    await client.get({ ...k, input: 'metrics probe, miss' });
    expect((await metric(hit)) - hitsBefore).toBe(2);
    expect((await metric(miss)) - missesBefore).toBe(1);
    expect(await metric('cache_lookups_waiting{service="cache-service"}')).toBe(0);
    expect(await (await fetch(`${service.url}/metrics`, { headers: credentials.as('metrics') })).text()).toContain('# TYPE cache_single_flight_leases_total counter');
  });
});

