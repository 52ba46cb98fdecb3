import type { ReconciliationRow } from '@qv/contracts';
import type { SqlPort } from '@qv/db';

export interface ReconcileFilter {
  userId?: string;
  /** First UTC day to include (YYYY-MM-DD); default: 31 days ago. */
  since?: string;
}

/**
 * Per user and UTC day, the four views of the same tokens that must agree (DESIGN.md §4):
 * - counterTokens: ai_daily_usage.tokens, what the charge checks against;
 * - reservedTokens: estimates still held (in flight, or expired and so kept — fail closed);
 * - settledTokens: actual tokens of settled reservations, and of released ones whose failed work
 *   still cost tokens;
 * - ledgerTokens: tokens of charged ledger entries (a charged failure's are what it still cost).
 * drift = |counter − reserved − settled| + |ledger − settled|: 0 when the counters are exactly
 * the reservations and every settlement has its ledger entry. Uncharged replays are not counted.
 */
export async function reconcile(db: SqlPort, filter: ReconcileFilter = {}): Promise<ReconciliationRow[]> {
  const since = filter.since ?? new Date(Date.now() - 31 * 86_400_000).toISOString().slice(0, 10);
  // $2 is null for every user; the day comes back as text, so no time zone is ever applied to it.
  const { rows } = await db.query<{ user_id: string; day: string; reserved: string; settled: string; ledger: string; counter: string }>(
    `WITH r AS (
      SELECT user_id, day,
             SUM(CASE WHEN status IN ('RESERVED', 'EXPIRED') THEN estimated_tokens ELSE 0 END) AS reserved,
             SUM(CASE WHEN status IN ('SETTLED', 'RELEASED') THEN COALESCE(actual_tokens, 0) ELSE 0 END) AS settled
      FROM ai_usage_reservations WHERE day >= $1::date AND ($2::text IS NULL OR user_id = $2::text)
      GROUP BY user_id, day
    ), l AS (
      SELECT user_id, day, SUM(total_tokens) AS ledger
      FROM ai_usage_ledger WHERE charged AND day >= $1::date AND ($2::text IS NULL OR user_id = $2::text)
      GROUP BY user_id, day
    ), c AS (
      SELECT user_id, day, tokens AS counter FROM ai_daily_usage WHERE day >= $1::date AND ($2::text IS NULL OR user_id = $2::text)
    ), keys AS (
      SELECT user_id, day FROM r UNION SELECT user_id, day FROM l UNION SELECT user_id, day FROM c
    )
    SELECT k.user_id, to_char(k.day, 'YYYY-MM-DD') AS day,
           COALESCE(r.reserved, 0)::bigint AS reserved, COALESCE(r.settled, 0)::bigint AS settled,
           COALESCE(l.ledger, 0)::bigint AS ledger, COALESCE(c.counter, 0)::bigint AS counter
    FROM keys k
    LEFT JOIN r ON r.user_id = k.user_id AND r.day = k.day
    LEFT JOIN l ON l.user_id = k.user_id AND l.day = k.day
    LEFT JOIN c ON c.user_id = k.user_id AND c.day = k.day
    ORDER BY k.day DESC, k.user_id`,
    [since, filter.userId ?? null],
  );
  return rows.map((row) => {
    const reserved = Number(row.reserved);
    const settled = Number(row.settled);
    const ledger = Number(row.ledger);
    const counter = Number(row.counter);
    return {
      userId: row.user_id,
      day: row.day,
      reservedTokens: reserved,
      settledTokens: settled,
      ledgerTokens: ledger,
      counterTokens: counter,
      drift: Math.abs(counter - reserved - settled) + Math.abs(ledger - settled),
    };
  });
}
