/*
 * The drift check runs every minute over today and yesterday (ledger-consumer's reconcile job):
 * what it reads must be those two days, not the year of reservations, ledger entries and daily
 * counters behind them.
 */
import { sqlPortOf, tableReads, useTestDatabase } from '@qv/testing';
import { applyUsageEvent } from './apply-usage-event';
import { reconcile } from './reconciliation';
import { usageReport } from './usage-report';
import { completedEvent, insertUser, reserve } from './testing';

const db = useTestDatabase();
const DAY_MS = 86_400_000;
const dayKey = (d: Date) => d.toISOString().slice(0, 10);

/** A year before yesterday, written day after day as traffic writes it: `perDay` settled calls of each user a day, each with its entry and its day's counter. */
async function aYearOfHistory(users: string[], perDay: number): Promise<void> {
  await db().query(
    `WITH calls AS (
       SELECT u.id AS user_id, d::date AS day, g, u.id || '_' || to_char(d, 'YYYYMMDD') || '_' || g AS ref
         FROM generate_series(now()::date - 366, now()::date - 2, interval '1 day') d, unnest($1::text[]) u(id), generate_series(1, $2::int) g
        ORDER BY d, u.id, g
     ), r AS (
       INSERT INTO ai_usage_reservations (id, user_id, item_id, idempotency_key, status, estimated_tokens, actual_tokens, day, month, created_at, expires_at, finished_at)
       SELECT 'rsv_' || ref, user_id, 'itm_' || ref, 'key_' || ref, 'SETTLED', 20, 10, day, date_trunc('month', day)::date, day + interval '1 hour', day + interval '2 hours', day + interval '1 hour'
         FROM calls RETURNING 1
     ), l AS (
       INSERT INTO ai_usage_ledger (id, event_id, user_id, item_id, reservation_id, kind, total_tokens, charged, idempotency_key, day, created_at)
       SELECT 'led_' || ref, 'evt_' || ref, user_id, 'itm_' || ref, 'rsv_' || ref, 'completed', 10, true, 'job_' || ref, day, day + interval '1 hour'
         FROM calls RETURNING 1
     )
     SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM l)`,
    [users, perDay],
  );
  await db().query(
    `INSERT INTO ai_daily_usage (user_id, day, enrichments, tokens)
     SELECT u.id, d::date, $2::int, $2::int * 10
       FROM generate_series(now()::date - 366, now()::date - 2, interval '1 day') d, unnest($1::text[]) u(id)
      ORDER BY d, u.id`,
    [users, perDay],
  );
}

it('reads the days it reconciles, not the year behind them', async () => {
  const users: string[] = [];
  for (let i = 0; i < 40; i++) users.push(await insertUser(db().query));
  await aYearOfHistory(users, 5);
  const now = new Date();
  for (const when of [now, new Date(now.getTime() - DAY_MS)]) {
    const charged = await reserve(db().sql, users[0], 50, when);
    await applyUsageEvent(db().sql, completedEvent(charged, { prompt: 30, completion: 5 }));
  }
  await reserve(db().sql, users[1], 40, now);
  // What autovacuum does on a live server (not on this machine's, where it is off): statistics,
  // and the summaries of the pages written since the last run.
  for (const table of ['ai_usage_reservations', 'ai_usage_ledger', 'ai_daily_usage']) await db().query(`VACUUM ANALYZE ${table}`);

  const since = dayKey(new Date(now.getTime() - DAY_MS));
  const expected = [
    { userId: users[0], day: dayKey(now), reservedTokens: 0, settledTokens: 35, ledgerTokens: 35, counterTokens: 35, drift: 0 },
    { userId: users[1], day: dayKey(now), reservedTokens: 40, settledTokens: 0, ledgerTokens: 0, counterTokens: 40, drift: 0 },
    { userId: users[0], day: since, reservedTokens: 0, settledTokens: 35, ledgerTokens: 35, counterTokens: 35, drift: 0 },
  ].sort((a, b) => (a.day === b.day ? (a.userId < b.userId ? -1 : 1) : a.day < b.day ? 1 : -1));
  for (const table of ['ai_usage_reservations', 'ai_usage_ledger', 'ai_daily_usage']) {
    const [{ pages }] = await db().query<{ pages: number }>(`SELECT relpages AS pages FROM pg_class WHERE relname = $1`, [table]);
    const run = await tableReads(db().query, table, () => reconcile(sqlPortOf(db().query), { since }));
    expect(run.result).toEqual(expected);
    expect({ table, seqScans: run.seqScans }).toEqual({ table, seqScans: 0 });
    // A BRIN index hands over whole ranges of 128 pages: the two days' rows span at most two of
    // them. The counters' B-tree finds their few rows.
    const bound = table === 'ai_daily_usage' ? 10 : 2 * 128 + 20;
    expect(pages).toBeGreaterThan(4 * bound);
    expect(run.pages).toBeLessThan(bound);
  }
  // The usage report's last days read the ledger's last days too.
  const report = await tableReads(db().query, 'ai_usage_ledger', () => usageReport(sqlPortOf(db().query), { since }));
  expect(report.result.reduce((sum, row) => sum + row.calls, 0)).toBe(2);
  expect(report.seqScans).toBe(0);
});
