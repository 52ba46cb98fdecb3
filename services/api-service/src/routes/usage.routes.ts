import { idString, UsagePage } from '@qv/contracts';
import type { SqlPort } from '@qv/db/sql';
import { parseOr400 } from '@qv/http';
import { Router } from 'express';
import { z } from 'zod';
import { principalOf } from './auth.middleware';
import { ledgerPage, ledgerTotals } from '../repositories/usage.repository';
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
 * The user's ledger entries, newest first (usage.repository.ts: `ledgerPage`), with totals for
 * today and this month (UTC, `ledgerTotals`).
 */
export function usageRoutes(deps: { db: SqlPort }): Router {
  const router = Router();
  on(router, usageRouteDocs.listUsage, async (req, res) => {
    const { userId } = principalOf(res);
    const query = parseOr400(UsageQuery, req.query, 'query');
    const now = new Date();
    const dayStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const [rows, totals] = await Promise.all([
      ledgerPage(deps.db, userId, query.cursor ?? null, query.limit + 1),
      ledgerTotals(deps.db, userId, { today: dayStart, month: monthStart }),
    ]);
    const page = rows.slice(0, query.limit);
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
        costUsd: r.costUsd,
        cacheTier: r.cacheTier,
        cacheHit: r.cacheHit,
        tokensSaved: r.tokensSaved,
        costSavedUsd: r.costSavedUsd,
        charged: r.charged,
        createdAt: r.createdAt.toISOString(),
      })),
      nextCursor: rows.length > query.limit ? page[page.length - 1].id : null,
      totals,
    });
  });
  return router;
}
