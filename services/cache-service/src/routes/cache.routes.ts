import { CacheDeleteRequest, CacheLeaseReleaseRequest, CachePurgeBody } from '@qv/contracts';
import { allow, parseOr400 } from '@qv/http';
import { Router } from 'express';
import type { CacheService } from '@qv/cache';

/**
 * Rights on this router (DESIGN.md §9, SECURITY.md). The worker releases its single-flight lease and
 * nothing else here (its reads and writes are cache-entry.routes.ts): it cannot purge, warm or read
 * the stats. api-service operates the cache for the admin API (stats, purge, warm, delete).
 */
const WORKER = allow('enrichment-worker');
const OPERATOR = allow('api-service');

/** The rest of the internal API (DESIGN.md §6), on Express; not exposed outside the cluster, every route needs a service credential. */
export function cacheRoutes(cache: CacheService): Router {
  const router = Router();

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
