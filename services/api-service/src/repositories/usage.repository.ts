import { idFloor } from '@qv/contracts';
import type { SqlPort } from '@qv/db/sql';

export interface LedgerEntryRow {
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

export interface LedgerTotals {
  entries: number;
  tokens: number;
  costUsd: number;
  tokensSaved: number;
}

const DAY_MS = 86_400_000;

/**
 * A user's ledger entries, newest first, older than `cursor` (an entry id): ledger ids are
 * time-sortable and unique, so `id < cursor` pages with neither gaps nor repeats. Read on the
 * (user_id, id) index: `limit` entries of that user, whatever their history or anyone else's.
 */
export async function ledgerPage(db: SqlPort, userId: string, cursor: string | null, limit: number): Promise<LedgerEntryRow[]> {
  const { rows } = await db.query<LedgerEntryRow>(
    `SELECT id, event_id AS "eventId", item_id AS "itemId", kind, model, prompt_tokens AS "promptTokens", completion_tokens AS "completionTokens",
            total_tokens AS "totalTokens", cost_usd::float8 AS "costUsd", cache_tier AS "cacheTier", cache_hit AS "cacheHit",
            tokens_saved AS "tokensSaved", cost_saved_usd::float8 AS "costSavedUsd", charged, created_at AS "createdAt"
       FROM ai_usage_ledger WHERE user_id = $1 AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
    [userId, cursor, limit],
  );
  return rows;
}

/**
 * A user's entries of `since` (a UTC day) onwards, by the entry's `day` (its reservation's, the
 * window the quota counters use): `entries` counts every entry, `tokens` and `costUsd` what was
 * charged (charged completions), `tokensSaved` what the cache saved. The entries are found on the
 * (user_id, id) index from the day before `since`: an entry's id carries the time it was written
 * by its applier, never before its charge but for the skew between two services' clocks, which the
 * day's margin covers. So a month's totals read that month of the user's entries, not their years.
 */
export async function ledgerTotals(db: SqlPort, userId: string, since: Date): Promise<LedgerTotals> {
  const { rows } = await db.query<LedgerTotals>(
    `SELECT count(*)::int AS entries,
            coalesce(sum(total_tokens) FILTER (WHERE charged AND kind = 'completed'), 0)::float8 AS tokens,
            coalesce(sum(cost_usd) FILTER (WHERE charged AND kind = 'completed'), 0)::float8 AS "costUsd",
            coalesce(sum(tokens_saved), 0)::float8 AS "tokensSaved"
       FROM ai_usage_ledger WHERE user_id = $1 AND id >= $3 AND day >= $2::date`,
    [userId, since.toISOString().slice(0, 10), idFloor('led', since.getTime() - DAY_MS)],
  );
  return rows[0];
}
