import { Router } from 'express';
import { quotaHeaders } from '../domain/quota-headers';
import type { QuotaClient } from '../repositories/quota.client';
import { principalOf } from './auth.middleware';

export function quotaRoutes(deps: { quota: QuotaClient }): Router {
  const router = Router();
  router.get('/v1/quota', async (_req, res) => {
    const status = await deps.quota.status(principalOf(res).userId);
    res.set(quotaHeaders(status)).json(status);
  });
  return router;
}
