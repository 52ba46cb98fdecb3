import { CacheGetRequest, CacheLookupManyRequest, CacheLookupRequest, CachePutManyRequest, CachePutRequest } from '@qv/contracts';
import { allow, postJson, type JsonAnswer, type JsonRoute } from '@qv/http';
import type { CacheService, LookupResult } from '@qv/cache';

/**
 * Hits are written around the stored JSON as it is: the entry was validated when it was put, and
 * not re-parsing it keeps the hot read path to one Redis round trip and no JSON work.
 */
const hit = (raw: string): string => `{"hit":true,"entry":${raw}}`;

function lookups(results: LookupResult[]): JsonAnswer {
  return { status: 200, raw: `{"results":[${results.map((r) => (r.hit ? hit(r.raw) : JSON.stringify(r))).join(',')}]}` };
}

/**
 * Rights (DESIGN.md §9, SECURITY.md): the worker alone reads and fills the cache here. api-service
 * operates it (cache.routes.ts); its chat path's cache runs in its own process (libs/cache) on the
 * same entries, so it needs none of these routes.
 */
const WORKER = allow('enrichment-worker');

/**
 * The entry routes (DESIGN.md §6), called once or twice per item: served before Express
 * (directJsonRoutes in app.ts). The operator's routes are in cache.routes.ts.
 */
export function cacheEntryRoutes(cache: CacheService): JsonRoute[] {
  return [
    postJson('/internal/cache/get', WORKER, CacheGetRequest, async (body) => {
      const raw = await cache.get(body);
      return raw ? { status: 200, raw: hit(raw) } : { status: 200, json: { hit: false, entry: null } };
    }),
    postJson('/internal/cache/put', WORKER, CachePutRequest, async (body) => ({ status: 200, json: { stored: await cache.put(body) } })),
    postJson('/internal/cache/lookup', WORKER, CacheLookupRequest, async (body) => {
      const result = await cache.lookup(body);
      return result.hit ? { status: 200, raw: hit(result.raw) } : { status: 200, json: result };
    }),
    postJson('/internal/cache/put-many', WORKER, CachePutManyRequest, async (body) => ({ status: 200, json: { stored: await cache.putMany(body) } })),
    postJson('/internal/cache/lookup-many', WORKER, CacheLookupManyRequest, async (body) => lookups(await cache.lookupMany(body))),
  ];
}
