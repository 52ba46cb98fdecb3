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

/** The windows GET /v1/usage totals: today and this month (UTC days). */
export interface UsageWindows {
  today: Date;
  month: Date;
}

/** The sums of LedgerTotals over the entries whose `day` is `day` or later, as columns `<window>_<total>`. */
const totalsOf = (window: keyof UsageWindows, day: string) => `
  count(*) FILTER (WHERE day >= ${day})::int AS "${window}_entries",
  coalesce(sum(total_tokens) FILTER (WHERE day >= ${day} AND charged AND kind = 'completed'), 0)::float8 AS "${window}_tokens",
  coalesce(sum(cost_usd) FILTER (WHERE day >= ${day} AND charged AND kind = 'completed'), 0)::float8 AS "${window}_costUsd",
  coalesce(sum(tokens_saved) FILTER (WHERE day >= ${day}), 0)::float8 AS "${window}_tokensSaved"`;

/**
 * A user's totals of each window, in one statement over the wider one: `entries` counts every
 * entry of the window, by the entry's `day` (its reservation's, the window the quota counters use),
 * `tokens` and `costUsd` what was charged (charged completions), `tokensSaved` what the cache saved.
 * The entries are found on the (user_id, id) index from the day before the earlier window: an
 * entry's id carries the time it was written by its applier, never before its charge but for the
 * skew between two services' clocks, which the day's margin covers. So a month's totals read that
 * month of the user's entries, not their years, and today's come with them.
 */
export async function ledgerTotals(db: SqlPort, userId: string, windows: UsageWindows): Promise<Record<keyof UsageWindows, LedgerTotals>> {
  const from = Math.min(windows.today.getTime(), windows.month.getTime());
  const { rows } = await db.query<Record<string, number>>(
    `SELECT ${totalsOf('today', '$3::date')}, ${totalsOf('month', '$4::date')}
       FROM ai_usage_ledger WHERE user_id = $1 AND id >= $2 AND day >= least($3::date, $4::date)`,
    [userId, idFloor('led', from - DAY_MS), utcDay(windows.today), utcDay(windows.month)],
  );
  const totals = (window: keyof UsageWindows): LedgerTotals => ({
    entries: rows[0][`${window}_entries`],
    tokens: rows[0][`${window}_tokens`],
    costUsd: rows[0][`${window}_costUsd`],
    tokensSaved: rows[0][`${window}_tokensSaved`],
  });
  return { today: totals('today'), month: totals('month') };
}

const utcDay = (at: Date) => at.toISOString().slice(0, 10);
