import { NotFoundError, PlanId, PlanResponse, PlansResponse, PlanUpdate, type Plan } from '@qv/contracts';
import type { QuotaClient } from '../../repositories/quota.client';
import { PLAN_COLUMNS, type SqlPort } from '@qv/db/sql';
import { parseOr400 } from '@qv/http';
import { Router } from 'express';
import { admin, authed, documented, edge, json, named, notFound, on, validation, type RouteDoc } from '../../openapi/route-doc';
import { z } from 'zod';

/** A plan row as PLAN_COLUMNS reads it: the Plan itself, and when it last changed. */
type PlanRow = Plan & { updatedAt: Date };

/** The column of each field a PlanUpdate may set. */
const PLAN_FIELD_COLUMNS: Record<keyof PlanUpdate, string> = {
  name: 'name',
  enrichmentsPerDay: 'enrichments_per_day',
  concurrentJobs: 'concurrent_jobs',
  callsPerHour: 'calls_per_hour',
  tokensPerDay: 'tokens_per_day',
  tokensPerMonth: 'tokens_per_month',
  sessionTtlSeconds: 'session_ttl_seconds',
  contentTtlSeconds: 'content_ttl_seconds',
};

function presentPlan(row: PlanRow): Plan {
  return {
    id: row.id,
    name: row.name,
    enrichmentsPerDay: row.enrichmentsPerDay,
    concurrentJobs: row.concurrentJobs,
    callsPerHour: row.callsPerHour,
    tokensPerDay: row.tokensPerDay,
    tokensPerMonth: row.tokensPerMonth,
    sessionTtlSeconds: row.sessionTtlSeconds,
    contentTtlSeconds: row.contentTtlSeconds,
  };
}

/** The OpenAPI description of each route of this file (see openapi/route-doc.ts). */
export const plansRouteDocs = {
  listPlans: {
    method: 'get',
    path: '/admin/plans',
    operationId: 'listPlans',
    tags: ['admin'],
    summary: 'Every plan and its limits',
    security: authed,
    responses: { 200: { description: 'The plans, by id.', content: json(documented(PlansResponse)) }, ...edge, ...admin },
  },
  updatePlan: {
    method: 'put',
    path: '/admin/plans/{id}',
    operationId: 'updatePlan',
    tags: ['admin'],
    summary: "Edit a plan's limits",
    description: 'New charges see the new limits at once. A limit set to null is unlimited (or, for the TTLs, no cache).',
    security: authed,
    request: { params: z.object({ id: PlanId }), body: { required: true, content: json(named('PlanUpdate', PlanUpdate)) } },
    responses: { 200: { description: 'The plan as changed.', content: json(documented(PlanResponse)) }, ...validation, ...admin, ...notFound('plan') },
  },
} satisfies Record<string, RouteDoc>;

export function adminPlansRoutes(deps: { db: SqlPort; users?: Pick<QuotaClient, 'forgetAll'> }): Router {
  const { db } = deps;
  const router = Router();

  on(router, plansRouteDocs.listPlans, async (_req, res) => {
    const { rows } = await db.query<PlanRow>(`SELECT ${PLAN_COLUMNS} FROM plans ORDER BY id`);
    res.json({ plans: rows.map(presentPlan) });
  });

  /** Edits a plan's limits (new charges see them at once: the charge reads limits in its transaction). */
  on(router, plansRouteDocs.updatePlan, async (req, res) => {
    const id = parseOr400(PlanId, req.params.id, 'plan id');
    const body = parseOr400(PlanUpdate, req.body);
    const fields = (Object.keys(PLAN_FIELD_COLUMNS) as Array<keyof PlanUpdate>).filter((field) => body[field] !== undefined);
    const sets = fields.map((field, i) => `${PLAN_FIELD_COLUMNS[field]} = $${i + 2}`);
    const [row] = (
      await db.query<PlanRow>(`UPDATE plans SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE id = $1 RETURNING ${PLAN_COLUMNS}`, [id, ...fields.map((field) => body[field])])
    ).rows;
    if (!row) throw new NotFoundError('Plan');
    // Refusals and statuses kept under the old limits would outlive the change on this replica (others' refusals end within QUOTA_REFUSAL_MEMO_MS).
    deps.users?.forgetAll();
    res.json({ plan: presentPlan(row) });
  });

  return router;
}
