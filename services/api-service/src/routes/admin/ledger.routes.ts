import { idString } from '@qv/contracts';
import type { PrismaClient } from '@qv/db';
import { parseOr400 } from '@qv/http';
import { reconcile, usageReport } from '@qv/ledger';
import { Router } from 'express';
import { z } from 'zod';

/** The query of GET /admin/reconciliation (the OpenAPI document reads it from here). */
export const ReconcileQuery = z.object({ userId: idString().optional(), since: z.iso.date().optional() });
const ReportQuery = z.object({ since: z.iso.date().optional() });

/** Reconciliation (drift per user and day) and usage reports per plan, model and day. */
export function adminLedgerRoutes(deps: { prisma: PrismaClient }): Router {
  const router = Router();
  router.get('/admin/reconciliation', async (req, res) => {
    const query = parseOr400(ReconcileQuery, req.query, 'query');
    const rows = await reconcile(deps.prisma, query);
    res.json({ rows, totalDrift: rows.reduce((sum, r) => sum + r.drift, 0) });
  });
  router.get('/admin/reports/usage', async (req, res) => {
    const query = parseOr400(ReportQuery, req.query, 'query');
    res.json({ rows: await usageReport(deps.prisma, query) });
  });
  return router;
}
