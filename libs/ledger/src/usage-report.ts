import type { SqlPort } from '@qv/db';

export interface UsageReportRow {
  plan: string;
  model: string | null;
  day: string;
  calls: number;
  tokens: number;
  costUsd: number;
  cacheHits: number;
  tokensSaved: number;
  costSavedUsd: number;
}

/**
 * Completed usage per plan, model and UTC day (the entry's day: its reservation's), from the ledger.
 * `calls` counts every completion, charged or not (an uncharged dead-letter replay still cost us its
 * tokens); failures count only when their work still cost tokens (answers before the call that
 * failed), with those tokens. Cache hits count as calls with the tokens
 * and cost they saved. `plan` is the user's current plan: a plan change re-labels past rows.
 * `since` (YYYY-MM-DD) defaults to 31 days ago.
 */
export async function usageReport(db: SqlPort, options: { since?: string } = {}): Promise<UsageReportRow[]> {
  const since = options.since ?? new Date(Date.now() - 31 * 86_400_000).toISOString().slice(0, 10);
  const { rows } = await db.query<{ plan: string; model: string | null; day: string; calls: string; tokens: string; cost: string; hits: string; saved: string; cost_saved: string }>(
    `SELECT u.plan_id AS plan, l.model, to_char(l.day, 'YYYY-MM-DD') AS day,
           COUNT(*) AS calls, COALESCE(SUM(l.total_tokens), 0)::bigint AS tokens, COALESCE(SUM(l.cost_usd), 0)::text AS cost,
           COUNT(*) FILTER (WHERE l.cache_hit) AS hits, COALESCE(SUM(l.tokens_saved), 0)::bigint AS saved, COALESCE(SUM(l.cost_saved_usd), 0)::text AS cost_saved
    FROM ai_usage_ledger l JOIN users u ON u.id = l.user_id
    WHERE (l.kind = 'completed' OR l.total_tokens > 0) AND l.day >= $1::date
    GROUP BY u.plan_id, l.model, l.day
    ORDER BY l.day DESC, u.plan_id, l.model`,
    [since],
  );
  return rows.map((r) => ({
    plan: r.plan,
    model: r.model,
    day: r.day,
    calls: Number(r.calls),
    tokens: Number(r.tokens),
    costUsd: Number(r.cost),
    cacheHits: Number(r.hits),
    tokensSaved: Number(r.saved),
    costSavedUsd: Number(r.cost_saved),
  }));
}
