import { Router } from 'express';
import { quotaHeaders } from '../domain/quota-headers';
import type { QuotaClient } from '../repositories/quota.client';
import { principalOf } from './auth.middleware';
import { Quota, authed, common, edge, error, headerRefs, json, on, type RouteDoc } from '../openapi/route-doc';

/** The OpenAPI description of each route of this file (see openapi/route-doc.ts). */
export const quotaRouteDocs = {
  getQuota: {
    method: 'get',
    path: '/v1/quota',
    operationId: 'getQuota',
    tags: ['quota'],
    summary: 'The status of every quota of the caller',
    security: authed,
    responses: {
      200: { description: 'Used, limit, remaining, reset time and level of each limit; `level` is the worst of them.', headers: headerRefs, content: json(Quota) },
      ...edge,
      ...common,
      503: error('QUOTA_SERVICE_UNAVAILABLE.'),
    },
  },
} satisfies Record<string, RouteDoc>;

export function quotaRoutes(deps: { quota: QuotaClient }): Router {
  const router = Router();
  on(router, quotaRouteDocs.getQuota, async (_req, res) => {
    const status = await deps.quota.status(principalOf(res).userId);
    res.set(quotaHeaders(status)).json(status);
  });
  return router;
}
