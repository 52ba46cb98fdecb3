import { NotFoundError, PlanId, PlanResponse, PlansResponse, PlanUpdate, type Plan } from '@qv/contracts';
import type { RefusalMemo } from '../../domain/refusal-memo';
import type { PlanRow, PrismaClient } from '@qv/db';
import { parseOr400 } from '@qv/http';
import { Router } from 'express';
import { admin, authed, documented, edge, json, named, notFound, on, validation, type RouteDoc } from '../../openapi/route-doc';
import { z } from 'zod';

const big = (v: bigint | null) => (v === null ? null : Number(v));
const toBig = (v: number | null | undefined) => (v === undefined ? undefined : v === null ? null : BigInt(v));

function presentPlan(row: PlanRow): Plan {
  return {
    id: row.id,
    name: row.name,
    enrichmentsPerDay: row.enrichmentsPerDay,
    concurrentJobs: row.concurrentJobs,
    callsPerHour: row.callsPerHour,
    tokensPerDay: big(row.tokensPerDay),
    tokensPerMonth: big(row.tokensPerMonth),
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

export function adminPlansRoutes(deps: { prisma: PrismaClient; refusals?: Pick<RefusalMemo, 'forgetAll'> }): Router {
  const { prisma } = deps;
  const router = Router();

  on(router, plansRouteDocs.listPlans, async (_req, res) => {
    const rows = await prisma.plan.findMany({ orderBy: { id: 'asc' } });
    res.json({ plans: rows.map(presentPlan) });
  });

  /** Edits a plan's limits (new charges see them at once: the charge reads limits in its transaction). */
  on(router, plansRouteDocs.updatePlan, async (req, res) => {
    const id = parseOr400(PlanId, req.params.id, 'plan id');
    const body = parseOr400(PlanUpdate, req.body);
    const existing = await prisma.plan.findUnique({ where: { id } });
    if (!existing) throw new NotFoundError('Plan');
    const row = await prisma.plan.update({
      where: { id },
      data: { ...body, tokensPerDay: toBig(body.tokensPerDay), tokensPerMonth: toBig(body.tokensPerMonth), updatedAt: new Date() },
    });
    // Refusals kept under the old limits would outlive the change on this replica (others' end within QUOTA_REFUSAL_MEMO_MS).
    deps.refusals?.forgetAll();
    res.json({ plan: presentPlan(row) });
  });

  return router;
}
