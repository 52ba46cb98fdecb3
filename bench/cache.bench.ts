// `npm run bench -- cache`: cache-service POST /internal/cache/get on a warmed hit key, req/s and
// p50/p99 at 64 connections, beside a bare Express JSON endpoint (its own process, same body)
// measured in the same run. One cache-service process; Redis and the load generator share the box.
// The two are measured in alternating rounds and each side's median round is reported, so load
// from other work on the machine hits both sides alike rather than whichever ran second.
import { CacheClient } from '@qv/cache-client';
import type { CacheKeyParts } from '@qv/contracts';
import { Redis } from '@qv/queue';
import { createTestDatabase, startService, testRedisPrefix, testRedisUrl, testServiceCredentials } from '../libs/testing/src';
import globalSetup from '../libs/testing/src/global-setup';
import { load, rateOf, type HttpResult } from './support/autocannon';
import { startBareExpress } from './support/bare-server';

const CONNECTIONS = 64;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/** The round with the median rate. */
function median(results: HttpResult[], status: string): { rate: number; result: HttpResult } {
  const sorted = results.map((result) => ({ rate: rateOf(result, status), result })).sort((a, b) => a.rate - b.rate);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  await globalSetup();
  const db = await createTestDatabase();
  const prefix = testRedisPrefix();
  const credentials = testServiceCredentials();
  const service = await startService('cache-service', { DATABASE_URL: db.url, REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix, LOG_LEVEL: 'warn', ...credentials.envOf('cache-service') });
  const bare = await startBareExpress();
  // As the worker (get, put), and as api-service for the stats.
  const client = new CacheClient({ baseUrl: service.url, credential: credentials.credentials['enrichment-worker'] });
  const ops = new CacheClient({ baseUrl: service.url, credential: credentials.credentials['api-service'] });
  try {
    const key: CacheKeyParts = { tier: 'content', scope: 'usr_bench', task: 'summarize', model: 'sim-1', promptVersion: 'v1', input: 'Benchmarks print a ratio against a raw baseline measured in the same run.' };
    await client.put(key, { value: { summary: 'A ratio against a baseline.', tags: ['bench', 'cache'] }, tokens: 180, model: 'sim-1', costUsd: 0.00027 }, 3600);
    const warmed = await client.get(key);
    if (!warmed.hit) throw new Error('the benchmark key did not hit after its put');

    const body = JSON.stringify({ v: 1, key });
    const headers = { 'content-type': 'application/json' };
    // The service credential is checked on every get, as in production; the bare side gets the same header to carry.
    const authed = { ...headers, ...credentials.as('enrichment-worker') };
    const cacheReq = [{ method: 'POST', path: '/internal/cache/get', headers: authed, body }];
    const bareReq = [{ method: 'POST', path: '/echo', headers: authed, body }];

    await load(bare.url, CONNECTIONS, 2, bareReq); // warm-up (JIT, sockets)
    await load(service.url, CONNECTIONS, 2, cacheReq);

    const bareRounds: HttpResult[] = [];
    const cacheRounds: HttpResult[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      bareRounds.push(await load(bare.url, CONNECTIONS, DURATION_S, bareReq));
      cacheRounds.push(await load(service.url, CONNECTIONS, DURATION_S, cacheReq));
    }
    const { rate: bareRate, result: baseline } = median(bareRounds, '202');
    const { rate: cacheRate, result: cache } = median(cacheRounds, '200');
    const stats = (await ops.stats()).tiers.content;
    const all = (rounds: HttpResult[], status: string) => rounds.map((r) => rateOf(r, status).toFixed(0)).join(', ');
    console.log(`POST /internal/cache/get (content-tier hit), ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${DURATION_S} s; median round shown`);
    console.log(`  rounds: bare [${all(bareRounds, '202')}] req/s, cache [${all(cacheRounds, '200')}] req/s`);
    console.log(`  bare Express JSON   ${bareRate.toFixed(0).padStart(6)} req/s   p50 ${baseline.latency.p50} ms   p99 ${baseline.latency.p99} ms`);
    console.log(`  cache-service get   ${cacheRate.toFixed(0).padStart(6)} req/s   p50 ${cache.latency.p50} ms   p99 ${cache.latency.p99} ms   (non-2xx: ${cache.non2xx}, errors: ${cache.errors})`);
    console.log(`  ratio ${((cacheRate / bareRate) * 100).toFixed(1)} % of bare (target ≥ 60 %); hits counted ${stats.hits}, misses ${stats.misses}`);
  } finally {
    await client.close();
    await ops.close();
    bare.stop();
    await service.stop();
    const redis = new Redis(testRedisUrl());
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
