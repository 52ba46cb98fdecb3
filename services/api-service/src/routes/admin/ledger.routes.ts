import { idString, ReconciliationResponse, UsageReportResponse } from '@qv/contracts';
import type { SqlPort } from '@qv/db';
import { parseOr400 } from '@qv/http';
import { reconciliationSummary, usageReport } from '@qv/ledger';
import { Router } from 'express';
import { z } from 'zod';
import { admin, authed, documented, json, on, validation, type RouteDoc } from '../../openapi/route-doc';

/** The query of GET /admin/reconciliation (the OpenAPI document reads it from here). */
export const ReconcileQuery = z.object({
  userId: idString().optional(),
  since: z.iso.date().optional(),
  /** Only the rows whose drift is not 0. */
  drifting: z.stringbool().optional(),
  /** Most rows answered (the drift is summed over all of them). */
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});
const ReportQuery = z.object({ since: z.iso.date().optional() });

/** The OpenAPI description of each route of this file (see openapi/route-doc.ts). */
export const ledgerRouteDocs = {
  getReconciliation: {
    method: 'get',
    path: '/admin/reconciliation',
    operationId: 'getReconciliation',
    tags: ['admin'],
    summary: 'Reserved, settled, ledger and counter tokens per user and day; drift is expected to be 0',
    security: authed,
    request: { query: ReconcileQuery },
    responses: {
      200: { description: 'One row per user and day (at most `limit`, newest day first; `truncated` when more match), and the drift summed over every matching row.', content: json(documented(ReconciliationResponse)) },
      ...validation,
      ...admin,
    },
  },
  getUsageReport: {
    method: 'get',
    path: '/admin/reports/usage',
    operationId: 'getUsageReport',
    tags: ['admin'],
    summary: 'Usage per plan, model and day',
    security: authed,
    request: { query: z.object({ since: z.iso.date().optional() }) },
    responses: { 200: { description: 'Report rows.', content: json(UsageReportResponse) }, ...validation, ...admin },
  },
} satisfies Record<string, RouteDoc>;

/** Reconciliation (drift per user and day) and usage reports per plan, model and day. */
export function adminLedgerRoutes(deps: { db: SqlPort }): Router {
  const router = Router();
  on(router, ledgerRouteDocs.getReconciliation, async (req, res) => {
    const { limit, drifting, ...filter } = parseOr400(ReconcileQuery, req.query, 'query');
    const { rows, totalDrift, truncated } = await reconciliationSummary(deps.db, { ...filter, onlyDrifting: drifting }, limit);
    res.json({ rows, totalDrift, truncated });
  });
  on(router, ledgerRouteDocs.getUsageReport, async (req, res) => {
    const query = parseOr400(ReportQuery, req.query, 'query');
    res.json({ rows: await usageReport(deps.db, query) });
  });
  return router;
}
