import type { CacheClient } from '@qv/cache-client';
import { AppError, CachePurgeBody } from '@qv/contracts';
import { parseOr400, UnreachableError } from '@qv/http';
import { Router } from 'express';
import { Stats, admin, authed, edge, error, json, named, on, retryAfter, validation, type RouteDoc } from '../../openapi/route-doc';
import { CachePurgeResponse } from '@qv/contracts';

const cacheDown = { 503: error('SERVICE_UNAVAILABLE: cache-service did not answer.', { headers: { 'Retry-After': retryAfter } }) };

/** The OpenAPI description of each route of this file (see openapi/route-doc.ts). */
export const cacheRouteDocs = {
  getCacheStats: {
    method: 'get',
    path: '/admin/cache/stats',
    operationId: 'getCacheStats',
    tags: ['admin'],
    summary: 'Per cache tier: entries, hits, misses, hit ratio, tokens saved, cost saved',
    security: authed,
    responses: { 200: { description: 'Statistics by tier.', content: json(Stats) }, ...edge, ...admin, ...cacheDown },
  },
  purgeCache: {
    method: 'post',
    path: '/admin/cache/purge',
    operationId: 'purgeCache',
    tags: ['admin'],
    summary: 'Purge cache entries (a tier, a user, or everything)',
    security: authed,
    request: { body: { required: false, content: json(named('CachePurgeBody', CachePurgeBody)) } },
    responses: { 200: { description: 'How many entries were removed.', content: json(CachePurgeResponse) }, ...validation, ...admin, ...cacheDown },
  },
} satisfies Record<string, RouteDoc>;

/** Cache statistics and purges, passed through to cache-service. */
export function adminCacheRoutes(deps: { cache: CacheClient }): Router {
  const router = Router();
  const unavailable = (err: unknown): never => {
    if (err instanceof UnreachableError) throw new AppError('SERVICE_UNAVAILABLE', 'cache-service is unavailable', { retryAfterSeconds: 1, cause: err });
    throw err;
  };
  on(router, cacheRouteDocs.getCacheStats, async (_req, res) => {
    res.json(await deps.cache.stats().catch(unavailable));
  });
  on(router, cacheRouteDocs.purgeCache, async (req, res) => {
    const body = parseOr400(CachePurgeBody, req.body ?? {});
    res.json(await deps.cache.purge(body).catch(unavailable));
  });
  return router;
}
