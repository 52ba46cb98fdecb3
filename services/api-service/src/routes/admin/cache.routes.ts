import type { CacheClient } from '@qv/cache-client';
import { AppError, CachePurgeBody } from '@qv/contracts';
import { parseOr400, UnreachableError } from '@qv/http';
import { Router } from 'express';

/** Cache statistics and purges, passed through to cache-service. */
export function adminCacheRoutes(deps: { cache: CacheClient }): Router {
  const router = Router();
  const unavailable = (err: unknown): never => {
    if (err instanceof UnreachableError) throw new AppError('SERVICE_UNAVAILABLE', 'cache-service is unavailable', { retryAfterSeconds: 1, cause: err });
    throw err;
  };
  router.get('/admin/cache/stats', async (_req, res) => {
    res.json(await deps.cache.stats().catch(unavailable));
  });
  router.post('/admin/cache/purge', async (req, res) => {
    const body = parseOr400(CachePurgeBody, req.body ?? {});
    res.json(await deps.cache.purge(body).catch(unavailable));
  });
  return router;
}
