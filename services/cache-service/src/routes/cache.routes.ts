import {
  CacheDeleteRequest,
  CacheGetRequest,
  CacheLeaseReleaseRequest,
  CacheLookupManyRequest,
  CacheLookupRequest,
  CachePurgeBody,
  CachePutManyRequest,
  CachePutRequest,
} from '@qv/contracts';
import { allow, parseOr400 } from '@qv/http';
import { Router, type Response } from 'express';
import type { CacheService, LookupResult } from '../cache.service';

/**
 * Hits are written around the stored JSON as it is: the entry was validated when it was put, and
 * not re-parsing it keeps the hot read path to one Redis round trip and no JSON work.
 */
function sendEntry(res: Response, raw: string): void {
  res.type('application/json').send(`{"hit":true,"entry":${raw}}`);
}

/** A many-lookup's answer with each hit's stored JSON spliced in as is (as `sendEntry` does for one). */
function sendLookups(res: Response, results: LookupResult[]): void {
  const parts = results.map((r) => (r.hit ? `{"hit":true,"entry":${r.raw}}` : JSON.stringify(r)));
  res.type('application/json').send(`{"results":[${parts.join(',')}]}`);
}

/**
 * Rights on this router (DESIGN.md §9, SECURITY.md). The worker reads and fills the cache (get,
 * lookup, put, their many-key forms, lease release), nothing else: it cannot purge, warm or read the stats. api-service
 * operates it for the admin API (stats, purge, warm, delete) and gets and puts entries for its chat path.
 */
const WORKER = allow('enrichment-worker');
const OPERATOR = allow('api-service');
/** Get and put also for api-service: its synchronous chat path reads and fills the user's own tiers (no lease, no purge for the worker). */
const READER_WRITER = allow('enrichment-worker', 'api-service');

/** The internal API (DESIGN.md §6); not exposed outside the cluster, every route needs a service credential. */
export function cacheRoutes(cache: CacheService): Router {
  const router = Router();

  router.post('/internal/cache/get', READER_WRITER, async (req, res) => {
    const body = parseOr400(CacheGetRequest, req.body);
    const raw = await cache.get(body);
    if (raw) sendEntry(res, raw);
    else res.json({ hit: false, entry: null });
  });

  router.post('/internal/cache/put', READER_WRITER, async (req, res) => {
    const body = parseOr400(CachePutRequest, req.body);
    res.json({ stored: await cache.put(body) });
  });

  router.post('/internal/cache/lookup', WORKER, async (req, res) => {
    const body = parseOr400(CacheLookupRequest, req.body);
    const result = await cache.lookup(body);
    if (result.hit) sendEntry(res, result.raw);
    else res.json(result);
  });

  router.post('/internal/cache/put-many', READER_WRITER, async (req, res) => {
    const body = parseOr400(CachePutManyRequest, req.body);
    res.json({ stored: await cache.putMany(body) });
  });

  router.post('/internal/cache/lookup-many', WORKER, async (req, res) => {
    const body = parseOr400(CacheLookupManyRequest, req.body);
    sendLookups(res, await cache.lookupMany(body));
  });

  router.post('/internal/cache/lease/release', WORKER, async (req, res) => {
    const body = parseOr400(CacheLeaseReleaseRequest, req.body);
    res.json({ released: await cache.releaseLease(body.key, body.token) });
  });

  router.post('/internal/cache/delete', OPERATOR, async (req, res) => {
    const body = parseOr400(CacheDeleteRequest, req.body);
    res.json({ deleted: await cache.delete(body.key) });
  });

  router.post('/internal/cache/purge', OPERATOR, async (req, res) => {
    const body = parseOr400(CachePurgeBody, req.body ?? {});
    res.json({ purged: await cache.purge(body) });
  });

  router.post('/internal/cache/warm', OPERATOR, async (_req, res) => {
    res.json({ warmed: await cache.warm() });
  });

  router.get('/internal/cache/stats', OPERATOR, async (_req, res) => {
    res.json(await cache.stats());
  });

  return router;
}
