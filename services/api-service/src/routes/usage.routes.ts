import type { PrismaClient } from '@qv/db';
import { parseOr400 } from '@qv/http';
import { Router } from 'express';
import { z } from 'zod';
import { principalOf } from './auth.middleware';

const UsageQuery = z.object({ cursor: z.string().optional(), limit: z.coerce.number().int().min(1).max(200).default(50) });

/** The user's ledger entries, newest first, with totals for today and this month (UTC). */
export function usageRoutes(deps: { prisma: PrismaClient }): Router {
  const router = Router();
  router.get('/v1/usage', async (req, res) => {
    const { userId } = principalOf(res);
    const query = parseOr400(UsageQuery, req.query, 'query');
    const rows = await deps.prisma.aiUsageLedger.findMany({
      where: { userId, ...(query.cursor ? { id: { lt: query.cursor } } : {}) },
      orderBy: { id: 'desc' },
      take: query.limit + 1,
    });
    const page = rows.slice(0, query.limit);
    const now = new Date();
    const dayStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const totals = async (since: Date) => {
      const agg = await deps.prisma.aiUsageLedger.aggregate({
        where: { userId, charged: true, createdAt: { gte: since } },
        _sum: { totalTokens: true, costUsd: true, tokensSaved: true },
        _count: true,
      });
      return { entries: agg._count, tokens: agg._sum.totalTokens ?? 0, costUsd: Number(agg._sum.costUsd ?? 0), tokensSaved: agg._sum.tokensSaved ?? 0 };
    };
    res.json({
      entries: page.map((r) => ({
        id: r.id,
        eventId: r.eventId,
        itemId: r.itemId,
        kind: r.kind,
        model: r.model,
        promptTokens: r.promptTokens,
        completionTokens: r.completionTokens,
        totalTokens: r.totalTokens,
        costUsd: Number(r.costUsd),
        cacheTier: r.cacheTier,
        cacheHit: r.cacheHit,
        tokensSaved: r.tokensSaved,
        costSavedUsd: Number(r.costSavedUsd),
        charged: r.charged,
        createdAt: r.createdAt.toISOString(),
      })),
      nextCursor: rows.length > query.limit ? page[page.length - 1].id : null,
      totals: { today: await totals(dayStart), month: await totals(monthStart) },
    });
  });
  return router;
}
