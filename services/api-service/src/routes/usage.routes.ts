import { idString, UsagePage } from '@qv/contracts';
import type { SqlPort } from '@qv/db/sql';
import { parseOr400 } from '@qv/http';
import { Router } from 'express';
import { z } from 'zod';
import { principalOf } from './auth.middleware';
import { authed, common, documented, json, on, validation, type RouteDoc } from '../openapi/route-doc';

interface LedgerEntryRow {
  id: string;
  eventId: string;
  itemId: string;
  kind: string;
  model: string | null;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costUsd: number;
  cacheTier: string | null;
  cacheHit: boolean;
  tokensSaved: number;
  costSavedUsd: number;
  charged: boolean;
  createdAt: Date;
}

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
export function usageRoutes(deps: { db: SqlPort }): Router {
  const router = Router();
  on(router, usageRouteDocs.listUsage, async (req, res) => {
    const { userId } = principalOf(res);
    const query = parseOr400(UsageQuery, req.query, 'query');
    const { rows } = await deps.db.query<LedgerEntryRow>(
      `SELECT id, event_id AS "eventId", item_id AS "itemId", kind, model, prompt_tokens AS "promptTokens", completion_tokens AS "completionTokens",
              total_tokens AS "totalTokens", cost_usd::float8 AS "costUsd", cache_tier AS "cacheTier", cache_hit AS "cacheHit",
              tokens_saved AS "tokensSaved", cost_saved_usd::float8 AS "costSavedUsd", charged, created_at AS "createdAt"
         FROM ai_usage_ledger WHERE user_id = $1 AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
      [userId, query.cursor ?? null, query.limit + 1],
    );
    const page = rows.slice(0, query.limit);
    const now = new Date();
    const dayStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    // Windows by the entry's `day` (its reservation's UTC day), the same windows the quota counters use.
    const totals = async (since: Date) => {
      const [row] = (
        await deps.db.query<{ entries: number; tokens: number; costUsd: number; tokensSaved: number }>(
          `SELECT count(*)::int AS entries,
                  coalesce(sum(total_tokens) FILTER (WHERE charged AND kind = 'completed'), 0)::float8 AS tokens,
                  coalesce(sum(cost_usd) FILTER (WHERE charged AND kind = 'completed'), 0)::float8 AS "costUsd",
                  coalesce(sum(tokens_saved), 0)::float8 AS "tokensSaved"
             FROM ai_usage_ledger WHERE user_id = $1 AND day >= $2::date`,
          [userId, since.toISOString().slice(0, 10)],
        )
      ).rows;
      return row;
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
        costUsd: r.costUsd,
        cacheTier: r.cacheTier,
        cacheHit: r.cacheHit,
        tokensSaved: r.tokensSaved,
        costSavedUsd: r.costSavedUsd,
        charged: r.charged,
        createdAt: r.createdAt.toISOString(),
      })),
      nextCursor: rows.length > query.limit ? page[page.length - 1].id : null,
      totals: { today, month },
    });
  });
  return router;
}
