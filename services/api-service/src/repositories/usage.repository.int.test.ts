import { newId } from '@qv/contracts';
import { sqlPortOf, tableReads, useTestDatabase } from '@qv/testing';
import { ledgerPage, ledgerTotals } from './usage.repository';

const db = useTestDatabase();
const DAY_MS = 86_400_000;
const PER_DAY = 300;

/**
 * `perDay` entries a day for the last `days` days up to now, written as the ledger writes them (ids
 * of their time); every fifth an uncharged replay, each with a cost and tokens saved that vary.
 */
async function history(userId: string, days: number, perDay: number): Promise<void> {
  const now = Date.now();
  const ids: string[] = [];
  const at: string[] = [];
  for (let d = days - 1; d >= 0; d--) {
    for (let i = 0; i < perDay; i++) {
      const t = now - d * DAY_MS - (perDay - i) * 1000;
      ids.push(newId('led', t));
      at.push(new Date(t).toISOString());
    }
  }
  await db().query(
    `INSERT INTO ai_usage_ledger (id, event_id, user_id, item_id, reservation_id, kind, total_tokens, cost_usd, tokens_saved, charged, idempotency_key, day, created_at)
     SELECT t.id, 'evt_' || t.id, $1, 'itm_' || t.id, NULL, 'completed', 10 + t.n % 7, (t.n % 5) * 0.001, t.n % 3, t.n % 5 <> 0, 'job_' || t.id, (t.at AT TIME ZONE 'UTC')::date, t.at
       FROM unnest($2::text[], $3::timestamptz[]) WITH ORDINALITY AS t(id, at, n)`,
    [userId, ids, at],
  );
}

/** Index entries read of the ledger by `run`, after a check that nothing was read by a sequential scan. */
async function entriesRead<T>(run: () => Promise<T>): Promise<{ result: T; entries: number }> {
  const reads = await tableReads(db().query, 'ai_usage_ledger', run);
  expect(reads.seqScans).toBe(0);
  return reads;
}

it("GET /v1/usage's page and totals read the caller's entries of the page and of the window, not their year or anyone else's", async () => {
  // Two heavy users' year beside two hundred light users' (one entry a day), and a quiet user new today.
  await history('heavy', 365, PER_DAY);
  await history('other-heavy', 365, PER_DAY);
  for (let u = 0; u < 200; u++) await history(`light-${u}`, 365, 1);
  await history('quiet', 1, 3);
  await db().query('ANALYZE ai_usage_ledger');
  const port = sqlPortOf(db().query);
  const now = new Date();
  const dayStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const daysThisMonth = now.getUTCDate();

  const quietPage = await entriesRead(() => ledgerPage(port, 'quiet', null, 51));
  expect(quietPage.result).toHaveLength(3);
  expect(quietPage.entries).toBeLessThan(20);
  const windows = { today: dayStart, month: monthStart };
  const quietTotals = await entriesRead(() => ledgerTotals(port, 'quiet', windows));
  expect(quietTotals.result.month.entries).toBe(3);
  expect(quietTotals.entries).toBeLessThan(20);

  const heavyPage = await entriesRead(() => ledgerPage(port, 'heavy', null, 51));
  expect(heavyPage.result).toHaveLength(51);
  expect(heavyPage.entries).toBeLessThan(120);
  const next = await entriesRead(() => ledgerPage(port, 'heavy', heavyPage.result[50].id, 51));
  expect(next.result[0].id < heavyPage.result[50].id).toBe(true);
  expect(next.entries).toBeLessThan(120);

  // Both windows in one read: the month's entries, and at most the day before's (the margin for clocks).
  const totals = await entriesRead(() => ledgerTotals(port, 'heavy', windows));
  expect(totals.entries).toBeLessThan((daysThisMonth + 1) * PER_DAY + 50);
  const exact = async (since: Date) => {
    const [row] = await db().query<{ entries: number; tokens: number; costUsd: number; tokensSaved: number }>(
      `SELECT count(*)::int AS entries, coalesce(sum(total_tokens) FILTER (WHERE charged), 0)::float8 AS tokens,
              coalesce(sum(cost_usd) FILTER (WHERE charged), 0)::float8 AS "costUsd", coalesce(sum(tokens_saved), 0)::float8 AS "tokensSaved"
         FROM ai_usage_ledger WHERE user_id = 'heavy' AND day >= $1::date`,
      [since.toISOString().slice(0, 10)],
    );
    expect(row.tokensSaved).toBeGreaterThan(0); // the sums below compare something
    return row;
  };
  expect(totals.result.today).toEqual(await exact(dayStart));
  expect(totals.result.month).toEqual(await exact(monthStart));
  expect(totals.result.today.entries).toBeGreaterThan(0);
  expect(totals.result.month.entries).toBeGreaterThanOrEqual((daysThisMonth - 1) * PER_DAY);
  if (daysThisMonth > 1) expect(totals.result.month.entries).toBeGreaterThan(totals.result.today.entries);
});
