/*
 * What the hot path and the sweeps read stays the size of what they touch, whatever the planner's
 * statistics say and however large the tables grow.
 *
 * A charge counts the charging user's reservations in flight: that user's entries only. With
 * statistics taken while little was in flight (what autovacuum's ANALYZE sees on a busy table
 * between bursts), an index over every user's in-flight reservations looked as cheap as the user's
 * own, and each charge then read every other tenant's in-flight rows: one enterprise user's burst
 * made every other user's charge slower. The sweeper's pruning of old call slots read the whole
 * slot table every sweep to find none.
 */
import { newId } from '@qv/contracts';
import { sqlPortOf, tableReads, useTestDatabase } from '@qv/testing';
import { dayWindow, monthWindow } from './domain/windows';
import { expireStale, pruneCallSlotsBefore } from './index';
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

/** `run` in a rolled-back transaction, with what it read of `table`. */
const readsOf = <T,>(run: () => Promise<T>, table = 'ai_usage_reservations') => tableReads(db().query, table, run);

async function charge(userId: string, now: Date): Promise<{ outcome: string; inFlight: number; reservationId: string }> {
  const [row] = await db().query<{ outcome: string; in_flight: number; r_id: string }>(`SELECT outcome, in_flight, r_id FROM quota_charge($1, $2, $3, 10, $4, $5, 600)`, [
    userId,
    newId('itm'),
    newId('key'),
    newId('rsv'),
    now,
  ]);
  return { outcome: row.outcome, inFlight: row.in_flight, reservationId: row.r_id };
}

/** Statistics taken while 2,000 reservations of two other users were settled and none in flight. */
async function settledHistory(now: Date): Promise<void> {
  for (let i = 0; i < 2; i++) await insertReservations(await createUser(db().query, 'free', UNLIMITED), 'SETTLED', 1_000, now);
  await db().query('ANALYZE ai_usage_reservations');
}

it.each([
  ['unlimited', UNLIMITED],
  // The exact rolling hour: its edge slot is counted row by row, on the user's own (user, created_at) entries.
  ['an hourly limit', { ...UNLIMITED, callsPerHour: 1_000_000 }],
])("a charge and its settlement read the charging user's own reservations only (%s), after statistics taken with nothing in flight", async (_name, limits) => {
  const now = new Date();
  const quiet = await createUser(db().query, 'free', limits);
  const heavy = await createUser(db().query, 'free', UNLIMITED);
  await settledHistory(now);
  // Then one tenant's burst goes in flight.
  await insertReservations(heavy, 'RESERVED', 500, now);

  const quietCall = await readsOf(async () => {
    const charged = await charge(quiet, now);
    const [{ outcome }] = await db().query<{ outcome: string }>(
      `SELECT ledger_apply_usage_event($1, $2, $3, 'itm_settled', $4, true, 'completed', 'sim-1', 5, 3, 0, NULL, false, 0, 0, $5, $6) AS outcome`,
      [newId('led'), newId('evt'), quiet, charged.reservationId, newId('key'), now],
    );
    return { ...charged, settled: outcome };
  });
  expect(quietCall.result).toMatchObject({ outcome: 'accepted', inFlight: 1, settled: 'applied' });
  // Its idempotency probe, its own (empty) in-flight set and its reservation by id, not the other tenant's 500.
  expect(quietCall.entries).toBeLessThan(10);
  expect(quietCall.seqScans).toBe(0);

  // And the heavy user's own count is exact.
  expect((await readsOf(() => charge(heavy, now))).result).toMatchObject({ outcome: 'accepted', inFlight: 501 });
});

it('the sweeper finds the stale reservations among those in flight, without reading the settled history', async () => {
  const now = new Date();
  const heavy = await createUser(db().query, 'free', UNLIMITED);
  await settledHistory(now);
  await insertReservations(heavy, 'RESERVED', 500, now);
  await insertReservations(heavy, 'RESERVED', 3, now, -60);

  const [{ n: inFlight }] = await db().query<{ n: number }>(`SELECT count(*)::int AS n FROM ai_usage_reservations WHERE status = 'RESERVED'`);
  const sweep = await readsOf(() => expireStale(sqlPortOf(db().query), now));
  expect(sweep.result).toBe(3);
  expect(sweep.seqScans).toBe(0);
  // Every entry in flight (it reads that index whole, filtered on expires_at), not the 2,000 settled.
  expect(sweep.entries).toBeLessThan(inFlight + 50);
});

it('pruning old call slots reads the old slots, not every recent one', async () => {
  const now = new Date();
  // 200 users' last hour, 100 slots each, and three slots of one of them three hours old.
  await db().query(
    `INSERT INTO ai_call_slots (user_id, slot_start, calls)
     SELECT 'usr_slots_' || u, quota_call_slot($1::timestamptz - make_interval(secs => s * 10)), 1
       FROM generate_series(1, 200) u, generate_series(0, 99) s`,
    [now],
  );
  await db().query(
    `INSERT INTO ai_call_slots (user_id, slot_start, calls)
     SELECT 'usr_slots_1', quota_call_slot($1::timestamptz - interval '3 hours' - make_interval(secs => s * 10)), 1 FROM generate_series(0, 2) s`,
    [now],
  );
  await db().query('ANALYZE ai_call_slots');
  const prune = await readsOf(() => pruneCallSlotsBefore(sqlPortOf(db().query), now), 'ai_call_slots');
  expect(prune.result).toBeGreaterThanOrEqual(3);
  expect(prune.seqScans).toBe(0);
  expect(prune.entries).toBeLessThan(100);
});
