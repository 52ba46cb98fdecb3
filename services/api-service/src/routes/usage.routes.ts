import { idString, UsagePage } from '@qv/contracts';
import type { PrismaClient } from '@qv/db';
import { parseOr400 } from '@qv/http';
import { Router } from 'express';
import { z } from 'zod';
import { principalOf } from './auth.middleware';
import { authed, common, documented, json, on, validation, type RouteDoc } from '../openapi/route-doc';

/** The query of GET /v1/usage (the OpenAPI document reads it from here). */
export const UsageQuery = z.object({ cursor: idString().optional(), limit: z.coerce.number().int().min(1).max(200).default(50) });

/** The OpenAPI description of each route of this file (see openapi/route-doc.ts). */
export const usageRouteDocs = {
  listUsage: {
    method: 'get',
    path: '/v1/usage',
    operationId: 'listUsage',
    tags: ['usage'],
    summary: "The caller's ledger entries, newest first",
    security: authed,
    request: { query: UsageQuery },
    responses: {
      200: {
        description: 'One page of ledger entries, and the charged totals for today and this month (UTC).',
        content: json(documented(UsagePage)),
      },
      ...validation,
      ...common,
    },
  },
} satisfies Record<string, RouteDoc>;

/**
 * The user's ledger entries, newest first (ledger ids are time-sortable and unique, so `id < cursor`
 * pages with neither gaps nor repeats), with totals for today and this month (UTC):
 * `entries` counts every entry, `tokens` and `costUsd` only what was charged to the user (charged
 * completions: what the quota counters hold once settled), `tokensSaved` what the cache saved.
 */
export function usageRoutes(deps: { prisma: PrismaClient }): Router {
  const router = Router();
  on(router, usageRouteDocs.listUsage, async (req, res) => {
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
    // Windows by the entry's `day` (its reservation's UTC day), the same windows the quota counters use.
    const totals = async (since: Date) => {
      const [all, charged] = await Promise.all([
        deps.prisma.aiUsageLedger.aggregate({ where: { userId, day: { gte: since } }, _sum: { tokensSaved: true }, _count: true }),
        deps.prisma.aiUsageLedger.aggregate({ where: { userId, day: { gte: since }, charged: true, kind: 'completed' }, _sum: { totalTokens: true, costUsd: true } }),
      ]);
      return { entries: all._count, tokens: charged._sum.totalTokens ?? 0, costUsd: Number(charged._sum.costUsd ?? 0), tokensSaved: all._sum.tokensSaved ?? 0 };
    };
    const [today, month] = await Promise.all([totals(dayStart), totals(monthStart)]);
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
      totals: { today, month },
    });
  });
  return router;
}
