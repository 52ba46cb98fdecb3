import { CacheClient, cacheKey } from '@qv/cache-client';
import type { CacheKeyParts } from '@qv/contracts';
import { Redis } from '@qv/queue';
import { createTestDatabase, startService, testRedisPrefix, testRedisUrl, testServiceCredentials, type ServiceProcess, type TestDatabase } from '@qv/testing';

/**
 * cache-service as deployed by default (CACHE_DURABLE_TIERS=system, DESIGN.md §6): the system tier
 * kept in PostgreSQL and Redis, the session and content tiers in Redis alone. Every tier durable is
 * cache-service.int.test.ts's.
 */
let db: TestDatabase;
let prefix: string;
let redis: Redis;
let service: ServiceProcess;
let client: CacheClient;
let ops: CacheClient;
const credentials = testServiceCredentials();

const key = (overrides: Partial<CacheKeyParts> = {}): CacheKeyParts => ({ tier: 'content', scope: 'usr_d', task: 'summarize', model: 'sim-1', promptVersion: 'v1', input: 'durability', ...overrides });
const entry = (value: unknown) => ({ value, tokens: 50, model: 'sim-1' });
const redisKeyOf = (k: CacheKeyParts) => `${prefix}:cache:${k.tier}:${k.scope}:${cacheKey(k)}`;
/** Redis lost these entries (a restart, a flush): the complete marker goes with them. */
const loseFromRedis = (...keys: CacheKeyParts[]) => redis.del(...keys.map(redisKeyOf), `${prefix}:cache-complete`);
const rows = async (k: CacheKeyParts) => (await db.query('SELECT 1 FROM ai_cache WHERE cache_key = $1', [cacheKey(k)])).length;

async function fallbacks(tier: string): Promise<number> {
  const text = await (await fetch(`${service.url}/metrics`, { headers: credentials.as('metrics') })).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`cache_postgres_fallbacks_total{tier="${tier}",`))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

beforeAll(async () => {
  db = await createTestDatabase();
  prefix = testRedisPrefix();
  redis = new Redis(testRedisUrl());
  service = await startService('cache-service', { DATABASE_URL: db.url, REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix, DB_POOL_SIZE: '3', CACHE_ENTRY_COUNT_MAX_AGE_MS: '0', ...credentials.envOf('cache-service') });
  client = new CacheClient({ baseUrl: service.url, timeoutMs: 5000, credential: credentials.credentials['enrichment-worker'] });
  ops = new CacheClient({ baseUrl: service.url, timeoutMs: 5000, credential: credentials.credentials['api-service'] });
});

afterAll(async () => {
  await client?.close();
  await ops?.close();
  await service?.stop();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  await db?.drop();
});

describe('the default durability: the system tier in PostgreSQL, the others in Redis alone', () => {
  it('a session or content fill writes no row; once Redis lost it, it is one miss, PostgreSQL never asked', async () => {
    for (const tier of ['session', 'content'] as const) {
      const k = key({ tier, input: `lost ${tier}` });
      expect(await client.put(k, entry(`for ${tier}`), 600)).toEqual({ stored: true });
      expect(await rows(k)).toBe(0);
      expect((await client.get(k)).hit).toBe(true);

      const before = await fallbacks(tier);
      const misses = (await ops.stats()).tiers[tier].misses;
      await loseFromRedis(k);
      expect(await client.get(k)).toEqual({ hit: false, entry: null });
      // A lookup of it takes the lease at once: no PostgreSQL copy to wait for.
      const lookedUp = await client.lookup(k, 0);
      if (lookedUp.hit || !lookedUp.lease) throw new Error(`expected the lease, got ${JSON.stringify(lookedUp)}`);
      await client.releaseLease(k, lookedUp.lease.token);
      expect(await fallbacks(tier)).toBe(before);
      expect((await ops.stats()).tiers[tier].misses).toBe(misses + 2);
    }
  });

  it('the system tier is still written to PostgreSQL and served from there once Redis lost it', async () => {
    const k = key({ tier: 'system', scope: 'global', input: 'a durable system prompt' });
    await client.put(k, entry('the prompt'), null);
    expect(await rows(k)).toBe(1);
    await loseFromRedis(k);
    const before = await fallbacks('system');
    expect(await client.get(k)).toMatchObject({ hit: true, entry: { value: 'the prompt' } });
    expect(await fallbacks('system')).toBe(before + 1);
    expect(await redis.exists(redisKeyOf(k))).toBe(1); // re-warmed
  });

  it("counts a Redis-only tier's entries in Redis, a durable tier's in PostgreSQL", async () => {
    const mine = Array.from({ length: 5 }, (_, i) => key({ scope: 'usr_count', input: `counted ${i}` }));
    for (const k of mine) await client.put(k, entry('x'), 600);
    const content = (await ops.stats()).tiers.content.entries;
    await redis.del(redisKeyOf(mine[0]));
    expect((await ops.stats()).tiers.content.entries).toBe(content - 1);
    expect((await ops.stats()).tiers.system.entries).toBe(Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM ai_cache WHERE type = 'system'"))[0].n));
  });

  it('a purge of a user removes their Redis-only entries', async () => {
    const k = key({ scope: 'usr_purged', input: 'to purge' });
    await client.put(k, entry('x'), 600);
    expect(await ops.purge({ userId: 'usr_purged' })).toEqual({ purged: 1 });
    expect(await redis.exists(redisKeyOf(k))).toBe(0);
    expect((await client.get(k)).hit).toBe(false);
  });
});
