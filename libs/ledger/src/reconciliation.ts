import type { ReconciliationRow } from '@qv/contracts';
import type { SqlPort } from '@qv/db';

export interface ReconcileFilter {
  userId?: string;
  /** First UTC day to include (YYYY-MM-DD); default: 31 days ago. */
  since?: string;
  /** Only the rows whose drift is not 0. */
  onlyDrifting?: boolean;
}

/** The rows asked for (at most `limit`), and what is true of all the rows that match, beyond the limit too. */
export interface ReconciliationSummary {
  rows: ReconciliationRow[];
  /** Drift summed over every matching row. */
  totalDrift: number;
  /** Drift summed per day over every matching row, for the days of the rows answered. */
  driftByDay: Record<string, number>;
  /** More rows match than `limit`. */
  truncated: boolean;
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
 * Newest day first, then by user; every row that matches (`reconciliationSummary` bounds them).
 */
export async function reconcile(db: SqlPort, filter: ReconcileFilter = {}): Promise<ReconciliationRow[]> {
  return (await reconciliationSummary(db, filter, null)).rows;
}

/**
 * `reconcile`'s rows, at most `limit` of them (null: all), with the drift summed over every
 * matching row, in one statement (one snapshot). What an operator's call or the drift check needs
 * of a day with a hundred thousand active users is the drift and the rows that drift, not the
 * rest in one answer.
 */
export async function reconciliationSummary(db: SqlPort, filter: ReconcileFilter, limit: number | null): Promise<ReconciliationSummary> {
  const since = filter.since ?? new Date(Date.now() - 31 * 86_400_000).toISOString().slice(0, 10);
  // $2 is null for every user; the day comes back as text, so no time zone is ever applied to it.
  const { rows } = await db.query<{ user_id: string; day: string; reserved: string; settled: string; ledger: string; counter: string; drift: string; total_drift: string; day_drift: string; matching: string }>(
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
    ), views AS (
      SELECT k.user_id, k.day,
             COALESCE(r.reserved, 0)::bigint AS reserved, COALESCE(r.settled, 0)::bigint AS settled,
             COALESCE(l.ledger, 0)::bigint AS ledger, COALESCE(c.counter, 0)::bigint AS counter
      FROM keys k
      LEFT JOIN r ON r.user_id = k.user_id AND r.day = k.day
      LEFT JOIN l ON l.user_id = k.user_id AND l.day = k.day
      LEFT JOIN c ON c.user_id = k.user_id AND c.day = k.day
    ), drifts AS (
      SELECT views.*, abs(counter - reserved - settled) + abs(ledger - settled) AS drift FROM views
    ), matching AS (
      SELECT drifts.*, sum(drift) OVER () AS total_drift, sum(drift) OVER (PARTITION BY day) AS day_drift, count(*) OVER () AS matching
      FROM drifts WHERE NOT $3::boolean OR drift <> 0
    )
    SELECT user_id, to_char(day, 'YYYY-MM-DD') AS day, reserved, settled, ledger, counter, drift, total_drift, day_drift, matching
    FROM matching
    ORDER BY day DESC, user_id
    LIMIT $4`,
    [since, filter.userId ?? null, filter.onlyDrifting ?? false, limit],
  );
  const driftByDay: Record<string, number> = {};
  for (const row of rows) driftByDay[row.day] = Number(row.day_drift);
  return {
    rows: rows.map((row) => ({
      userId: row.user_id,
      day: row.day,
      reservedTokens: Number(row.reserved),
      settledTokens: Number(row.settled),
      ledgerTokens: Number(row.ledger),
      counterTokens: Number(row.counter),
      drift: Number(row.drift),
    })),
    totalDrift: rows.length ? Number(rows[0].total_drift) : 0,
    driftByDay,
    truncated: rows.length > 0 && Number(rows[0].matching) > rows.length,
  };
}
