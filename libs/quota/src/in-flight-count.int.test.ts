/*
 * A charge counts the charging user's reservations in flight. That count must read that user's
 * entries only, whatever the planner's statistics say: with statistics taken while little was in
 * flight (what autovacuum's ANALYZE sees on a busy table between bursts), an index over every
 * user's in-flight reservations looked as cheap as the user's own, and each charge then read every
 * other tenant's in-flight rows: one enterprise user's burst made every other user's charge slower.
 */
import { newId } from '@qv/contracts';
import type { SqlPort } from '@qv/db/sql';
import { useTestDatabase } from '@qv/testing';
import { dayWindow, monthWindow } from './domain/windows';
import { expireStale } from './index';
import { createUser } from './testing';

const db = useTestDatabase();

const UNLIMITED = { concurrentJobs: null, callsPerHour: null, enrichmentsPerDay: null, tokensPerDay: null, tokensPerMonth: null };

async function insertReservations(userId: string, status: 'RESERVED' | 'SETTLED', count: number, now: Date, expiresInS = 600): Promise<void> {
  await db().query(
    `INSERT INTO ai_usage_reservations (id, user_id, item_id, idempotency_key, status, estimated_tokens, day, month, created_at, expires_at)
     SELECT 'rsv_' || $2 || '_' || g, $1, 'itm_' || $2 || '_' || g, 'key_' || $2 || '_' || g, $3, 10, $4::date, $5::date,
            $6::timestamptz - make_interval(secs => g), $6::timestamptz + make_interval(secs => $8::int)
       FROM generate_series(1, $7::int) g`,
    [userId, newId('rsv'), status, dayWindow(now).key, monthWindow(now).key, now, count, expiresInS],
  );
}

/**
 * `run` in a transaction rolled back after, with what it read of ai_usage_reservations: index
 * entries returned, and sequential scans.
 */
async function readsOf<T>(run: () => Promise<T>): Promise<{ result: T; entries: number; seqScans: number }> {
  await db().query('BEGIN');
  try {
    // A long-lived connection ends up on the generic plan (after five executions); take it at once.
    await db().query(`SET LOCAL plan_cache_mode = force_generic_plan`);
    const result = await run();
    const [read] = await db().query<{ entries: string; seq_scans: string }>(
      `SELECT (SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(i.indexrelid)), 0) FROM pg_index i WHERE i.indrelid = 'ai_usage_reservations'::regclass) AS entries,
              pg_stat_get_xact_numscans('ai_usage_reservations'::regclass) AS seq_scans`,
    );
    return { result, entries: Number(read.entries), seqScans: Number(read.seq_scans) };
  } finally {
    await db().query('ROLLBACK');
  }
}

async function charge(userId: string, now: Date): Promise<{ outcome: string; inFlight: number }> {
  const [row] = await db().query<{ outcome: string; in_flight: number }>(`SELECT outcome, in_flight FROM quota_charge($1, $2, $3, 10, $4, $5, 600)`, [
    userId,
    newId('itm'),
    newId('key'),
    newId('rsv'),
    now,
  ]);
  return { outcome: row.outcome, inFlight: row.in_flight };
}

/** Statistics taken while 2,000 reservations of two other users were settled and none in flight. */
async function settledHistory(now: Date): Promise<void> {
  for (let i = 0; i < 2; i++) await insertReservations(await createUser(db().query, 'free', UNLIMITED), 'SETTLED', 1_000, now);
  await db().query('ANALYZE ai_usage_reservations');
}

it("a charge reads the charging user's in-flight reservations only, after statistics taken with nothing in flight", async () => {
  const now = new Date();
  const quiet = await createUser(db().query, 'free', UNLIMITED);
  const heavy = await createUser(db().query, 'free', UNLIMITED);
  await settledHistory(now);
  // Then one tenant's burst goes in flight.
  await insertReservations(heavy, 'RESERVED', 500, now);

  const quietCharge = await readsOf(() => charge(quiet, now));
  expect(quietCharge.result).toEqual({ outcome: 'accepted', inFlight: 1 });
  // Its idempotency probe and its own (empty) in-flight set, not the other tenant's 500.
  expect(quietCharge.entries).toBeLessThan(10);
  expect(quietCharge.seqScans).toBe(0);

  // And the heavy user's own count is exact.
  expect((await readsOf(() => charge(heavy, now))).result).toEqual({ outcome: 'accepted', inFlight: 501 });
});

it('the sweeper finds the stale reservations among those in flight, without reading the settled history', async () => {
  const now = new Date();
  const heavy = await createUser(db().query, 'free', UNLIMITED);
  await settledHistory(now);
  await insertReservations(heavy, 'RESERVED', 500, now);
  await insertReservations(heavy, 'RESERVED', 3, now, -60);

  // On the test's own connection, whose transaction the reads are counted in.
  const sameConnection: SqlPort = { query: async <R,>(text: string, values?: unknown[]) => ({ rows: (await db().query(text, values)) as R[] }) };
  const sweep = await readsOf(() => expireStale(sameConnection, now));
  expect(sweep.result).toBe(3);
  expect(sweep.seqScans).toBe(0);
  // Every entry in flight (it reads that index whole, filtered on expires_at), not the 2,000 settled.
  expect(sweep.entries).toBeLessThan(520);
});
