import { NotFoundError, PlanId, PlanUpdate, type Plan } from '@qv/contracts';
import type { PlanRow, PrismaClient } from '@qv/db';
import { parseOr400 } from '@qv/http';
import { Router } from 'express';

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

export function adminPlansRoutes(deps: { prisma: PrismaClient }): Router {
  const { prisma } = deps;
  const router = Router();

  router.get('/admin/plans', async (_req, res) => {
    const rows = await prisma.plan.findMany({ orderBy: { id: 'asc' } });
    res.json({ plans: rows.map(presentPlan) });
  });

  /** Edits a plan's limits (new charges see them at once: the charge reads limits in its transaction). */
  router.put('/admin/plans/:id', async (req, res) => {
    const id = parseOr400(PlanId, req.params.id, 'plan id');
    const body = parseOr400(PlanUpdate, req.body);
    const existing = await prisma.plan.findUnique({ where: { id } });
    if (!existing) throw new NotFoundError('Plan');
    const row = await prisma.plan.update({
      where: { id },
      data: { ...body, tokensPerDay: toBig(body.tokensPerDay), tokensPerMonth: toBig(body.tokensPerMonth), updatedAt: new Date() },
    });
    res.json({ plan: presentPlan(row) });
  });

  return router;
}
