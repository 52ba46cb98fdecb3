import type { Db } from '@qv/db';
import type { ChargedLimits } from '../domain/limits';
import type { UsageSnapshot } from '../domain/usage';
import { limitsOf, usageOf, type LimitsUsageRow } from './charge.repository';
import { RESERVATION_COLUMNS, type ReservationRow } from './reservation.mapper';

/*
 * The quota engine's statements. The rules themselves are functions in prisma/functions; these call
 * them, or read and sweep. Each takes a `Db` (client or transaction) so use cases compose them.
 */

/**
 * The user's plan id, limits and usage at `now`, in one statement and without locks, from the same
 * functions quota_charge reads under the user's lock (prisma/functions/020 and 030), so the status
 * and the charge agree by construction. Null for an unknown user.
 */
export async function readLimitsAndUsage(db: Db, userId: string, now: Date): Promise<{ planId: string; limits: ChargedLimits; usage: UsageSnapshot } | null> {
  const rows = await db.$queryRaw<LimitsUsageRow[]>`
    SELECT l.plan_id, l.concurrent_jobs, l.calls_per_hour, l.enrichments_per_day, l.tokens_per_day, l.tokens_per_month, u.*
      FROM quota_user_limits(${userId}) l
     CROSS JOIN LATERAL quota_usage(${userId}, ${now}::timestamptz, l.calls_per_hour IS NOT NULL) u`;
  const row = rows[0];
  return row ? { planId: row.plan_id as string, limits: limitsOf(row), usage: usageOf(row) } : null;
}

export async function findReservation(db: Db, id: string): Promise<ReservationRow | null> {
  const rows = await db.$queryRawUnsafe<ReservationRow[]>(`SELECT ${RESERVATION_COLUMNS} FROM ai_usage_reservations WHERE id = $1`, id);
  return rows[0] ?? null;
}

/** ledger_settle_reservation (prisma/functions/050): true when this call settled it. */
export async function settleReservation(db: Db, id: string, actualTokens: number, now: Date): Promise<boolean> {
  const rows = await db.$queryRaw<{ changed: boolean }[]>`SELECT ledger_settle_reservation(${id}, ${actualTokens}::int, ${now}::timestamptz) AS changed`;
  return rows[0].changed;
}

/** ledger_release_reservation (prisma/functions/060): true when this call released it. */
export async function releaseReservation(db: Db, id: string, now: Date): Promise<boolean> {
  const rows = await db.$queryRaw<{ changed: boolean }[]>`SELECT ledger_release_reservation(${id}, ${now}::timestamptz) AS changed`;
  return rows[0].changed;
}

/**
 * RESERVED past `expires_at` → EXPIRED, at most `batch` rows. SKIP LOCKED leaves rows a settle or
 * release is changing right now to that settle or release, and lets several sweepers run at once.
 */
export async function expireBatch(db: Db, now: Date, batch: number): Promise<number> {
  const rows = await db.$queryRaw<{ n: number }[]>`
    WITH x AS (
      UPDATE ai_usage_reservations SET status = 'EXPIRED', finished_at = ${now}::timestamptz
       WHERE id IN (SELECT id FROM ai_usage_reservations
                     WHERE status = 'RESERVED' AND expires_at <= ${now}::timestamptz
                     ORDER BY expires_at LIMIT ${batch}::int FOR UPDATE SKIP LOCKED)
         AND status = 'RESERVED'
      RETURNING 1
    )
    SELECT count(*)::int AS n FROM x`;
  return rows[0].n;
}

/**
 * Deletes rows of ai_call_slots older than `before`, at most `batch`: the rolling hour reads the
 * last hour's slots only, so a slot two hours old has no reader left.
 */
export async function pruneCallSlots(db: Db, before: Date, batch: number): Promise<number> {
  const rows = await db.$queryRaw<{ n: number }[]>`
    WITH x AS (
      DELETE FROM ai_call_slots
       WHERE ctid IN (SELECT ctid FROM ai_call_slots WHERE slot_start < ${before}::timestamptz LIMIT ${batch}::int)
      RETURNING 1
    )
    SELECT count(*)::int AS n FROM x`;
  return rows[0].n;
}

/** Ids of RESERVED reservations created before `before` whose item row does not exist. */
export async function findOrphans(db: Db, before: Date, batch: number): Promise<string[]> {
  const rows = await db.$queryRaw<{ id: string }[]>`
    SELECT r.id FROM ai_usage_reservations r
     WHERE r.status = 'RESERVED' AND r.created_at < ${before}::timestamptz
       AND NOT EXISTS (SELECT 1 FROM items i WHERE i.id = r.item_id)
     ORDER BY r.created_at LIMIT ${batch}::int`;
  return rows.map((r) => r.id);
}
