import { prepared, type SqlPort } from '@qv/db/sql';
import type { ChargedLimits } from '../domain/limits';
import type { UsageSnapshot } from '../domain/usage';
import { limitsOf, usageOf, type LimitsUsageRow } from './charge.repository';
import { RESERVATION_COLUMNS, type ReservationRow } from './reservation.mapper';

/*
 * The quota engine's statements. The rules themselves are functions in prisma/functions; these call
 * them, or read and sweep. Each takes the SQL port (a pool, or a client inside a transaction).
 */

/**
 * The user's plan id, limits and usage at `now`, in one statement and without locks, from the same
 * functions quota_charge reads under the user's lock (prisma/functions/020 and 030), so the status
 * and the charge agree by construction. Null for an unknown user.
 */
export async function readLimitsAndUsage(db: SqlPort, userId: string, now: Date): Promise<{ planId: string; limits: ChargedLimits; usage: UsageSnapshot } | null> {
  const { rows } = await db.query<LimitsUsageRow>(
    `SELECT l.plan_id, l.concurrent_jobs, l.calls_per_hour, l.enrichments_per_day, l.tokens_per_day, l.tokens_per_month, u.*
       FROM quota_user_limits($1) l
      CROSS JOIN LATERAL quota_usage($1, $2::timestamptz, l.calls_per_hour IS NOT NULL) u`,
    [userId, now],
  );
  const row = rows[0];
  return row ? { planId: row.plan_id as string, limits: limitsOf(row), usage: usageOf(row) } : null;
}

export async function findReservation(db: SqlPort, id: string): Promise<ReservationRow | null> {
  const { rows } = await db.query<ReservationRow>(`SELECT ${RESERVATION_COLUMNS} FROM ai_usage_reservations WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

const SETTLE_SQL = prepared('SELECT ledger_settle_reservation($1, $2::int, $3::timestamptz) AS changed');
const RELEASE_SQL = prepared('SELECT ledger_release_reservation($1, $2::timestamptz) AS changed');

/** ledger_settle_reservation (prisma/functions/050): true when this call settled it. */
export async function settleReservation(db: SqlPort, id: string, actualTokens: number, now: Date): Promise<boolean> {
  const { rows } = await db.query<{ changed: boolean }>(SETTLE_SQL, [id, actualTokens, now]);
  return rows[0].changed;
}

/** ledger_release_reservation (prisma/functions/060): true when this call released it. */
export async function releaseReservation(db: SqlPort, id: string, now: Date): Promise<boolean> {
  const { rows } = await db.query<{ changed: boolean }>(RELEASE_SQL, [id, now]);
  return rows[0].changed;
}

/**
 * RESERVED past `expires_at` → EXPIRED, at most `batch` rows. SKIP LOCKED leaves rows a settle or
 * release is changing right now to that settle or release, and lets several sweepers run at once.
 */
export async function expireBatch(db: SqlPort, now: Date, batch: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `WITH x AS (
       UPDATE ai_usage_reservations SET status = 'EXPIRED', finished_at = $1::timestamptz
        WHERE id IN (SELECT id FROM ai_usage_reservations
                      WHERE status = 'RESERVED' AND expires_at <= $1::timestamptz
                      ORDER BY expires_at LIMIT $2::int FOR UPDATE SKIP LOCKED)
          AND status = 'RESERVED'
       RETURNING 1
     )
     SELECT count(*)::int AS n FROM x`,
    [now, batch],
  );
  return rows[0].n;
}

/**
 * Deletes rows of ai_call_slots older than `before`, at most `batch`: the rolling hour reads the
 * last hour's slots only, so a slot two hours old has no reader left. The old rows are found by
 * their start's index and deleted by ctid (`= ANY(ARRAY(…))` is what gives a TID scan; `IN (…)`
 * joined against a scan of the whole table).
 */
export async function pruneCallSlots(db: SqlPort, before: Date, batch: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `WITH x AS (
       DELETE FROM ai_call_slots
        WHERE ctid = ANY(ARRAY(SELECT ctid FROM ai_call_slots WHERE slot_start < $1::timestamptz LIMIT $2::int))
       RETURNING 1
     )
     SELECT count(*)::int AS n FROM x`,
    [before, batch],
  );
  return rows[0].n;
}

/**
 * Ids of RESERVED reservations of items (`itm_…`) created before `before` whose item row does not
 * exist, or has been FAILED since before the charge: a dead-letter replay charged it, then never
 * claimed the item (its charge timed out at api-service and committed all the same). An item that
 * failed after its charge is not one: its failure's event releases the reservation. Only items
 * have rows to look for: a synchronous chat call's reservation (`chc_…`) never has one, and is
 * settled or released by its own request, or expired like any other.
 */
export async function findOrphans(db: SqlPort, before: Date, batch: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT r.id FROM ai_usage_reservations r
      WHERE r.status = 'RESERVED' AND r.created_at < $1::timestamptz
        AND r.item_id LIKE 'itm\\_%'
        AND NOT EXISTS (SELECT 1 FROM items i WHERE i.id = r.item_id AND NOT (i.status = 'FAILED' AND i.updated_at < r.created_at))
      ORDER BY r.created_at LIMIT $2::int`,
    [before, batch],
  );
  return rows.map((r) => r.id);
}
