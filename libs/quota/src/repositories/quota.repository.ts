import type { PlanLimits } from '@qv/contracts';
import type { Db } from '@qv/db';
import { resolveLimits } from '../domain/limits';
import type { UsageSnapshot } from '../domain/usage';
import { RESERVATION_COLUMNS, type ReservationRow } from './reservation.mapper';

/*
 * Every statement of the quota engine, as raw SQL: the hot path wants one round trip per step and
 * conditional writes Prisma's query API cannot express. Each function takes a `Db` (client or
 * transaction) so use cases compose them inside one transaction.
 */

export interface UserLimits {
  planId: string;
  limits: PlanLimits;
}

interface LimitsRow {
  plan_id: string;
  enrichments_per_day: number | null;
  concurrent_jobs: number | null;
  calls_per_hour: number | null;
  tokens_per_day: bigint | null;
  tokens_per_month: bigint | null;
  session_ttl_seconds: number | null;
  content_ttl_seconds: number | null;
  overrides: unknown;
}

const num = (v: bigint | number | null): number | null => (v === null ? null : Number(v));

function toUserLimits(row: LimitsRow): UserLimits {
  const plan: PlanLimits = {
    enrichmentsPerDay: row.enrichments_per_day,
    concurrentJobs: row.concurrent_jobs,
    callsPerHour: row.calls_per_hour,
    tokensPerDay: num(row.tokens_per_day),
    tokensPerMonth: num(row.tokens_per_month),
    sessionTtlSeconds: row.session_ttl_seconds,
    contentTtlSeconds: row.content_ttl_seconds,
  };
  return { planId: row.plan_id, limits: resolveLimits(plan, row.overrides) };
}

/** The user's plan id and effective limits (plan + overrides), without a lock, for reads (status). */
export async function readUserLimits(db: Db, userId: string): Promise<UserLimits | null> {
  const rows = await db.$queryRaw<LimitsRow[]>`
    SELECT u.plan_id, p.enrichments_per_day, p.concurrent_jobs, p.calls_per_hour, p.tokens_per_day,
           p.tokens_per_month, p.session_ttl_seconds, p.content_ttl_seconds, o.limits AS overrides
      FROM users u
      JOIN plans p ON p.id = u.plan_id
      LEFT JOIN user_quota_overrides o ON o.user_id = u.id
     WHERE u.id = ${userId}`;
  return rows[0] ? toUserLimits(rows[0]) : null;
}

interface UsageRow {
  in_flight: number;
  earliest_expiry: Date | null;
  calls_in_hour: number;
  oldest_call_at: Date | null;
  enrichments_today: number | null;
  tokens_today: bigint | null;
  tokens_this_month: bigint | null;
}

/**
 * What the status reports, in one statement and without locks (a charge reads the same figures
 * inside `quota_charge`, under the user's lock). The rolling hour counts reservations created after
 * `hourStart` whose status is not RELEASED (a release refunds the call).
 */
export async function readUsage(db: Db, args: { userId: string; hourStart: Date; day: string; month: string }): Promise<UsageSnapshot> {
  const rows = await db.$queryRaw<UsageRow[]>`
    SELECT f.in_flight, f.earliest_expiry, h.calls_in_hour, h.oldest_call_at,
           (SELECT enrichments FROM ai_daily_usage WHERE user_id = ${args.userId} AND day = ${args.day}::date) AS enrichments_today,
           (SELECT tokens FROM ai_daily_usage WHERE user_id = ${args.userId} AND day = ${args.day}::date) AS tokens_today,
           (SELECT tokens FROM ai_monthly_usage WHERE user_id = ${args.userId} AND month = ${args.month}::date) AS tokens_this_month
      FROM (SELECT count(*)::int AS in_flight, min(expires_at) AS earliest_expiry
              FROM ai_usage_reservations WHERE user_id = ${args.userId} AND status = 'RESERVED') f,
           (SELECT count(*)::int AS calls_in_hour, min(created_at) AS oldest_call_at
              FROM ai_usage_reservations
             WHERE user_id = ${args.userId} AND created_at > ${args.hourStart}::timestamptz AND status <> 'RELEASED') h`;
  const row = rows[0];
  return {
    inFlight: row.in_flight,
    earliestExpiry: row.earliest_expiry ? new Date(row.earliest_expiry) : null,
    callsInHour: row.calls_in_hour,
    oldestCallAt: row.oldest_call_at ? new Date(row.oldest_call_at) : null,
    enrichmentsToday: row.enrichments_today ?? 0,
    tokensToday: Number(row.tokens_today ?? 0),
    tokensThisMonth: Number(row.tokens_this_month ?? 0),
  };
}

// to_jsonb turns timestamps and dates into strings; give them back their types.
function jsonReservation(json: ReservationRow): ReservationRow {
  return { ...json, day: new Date(json.day), month: new Date(json.month), created_at: new Date(json.created_at), expires_at: new Date(json.expires_at) };
}

export async function findReservation(db: Db, id: string): Promise<ReservationRow | null> {
  const rows = await db.$queryRawUnsafe<ReservationRow[]>(`SELECT ${RESERVATION_COLUMNS} FROM ai_usage_reservations WHERE id = $1`, id);
  return rows[0] ?? null;
}

/**
 * RESERVED or EXPIRED → SETTLED, and the reservation's own day and month rows take the actual count
 * in place of the estimate, in one statement. The status condition makes it happen once: a second
 * settle (or a release that won the race) finds no row to change, because PostgreSQL re-checks the
 * WHERE clause on the row version it waited for.
 */
export async function settleReservation(db: Db, id: string, actualTokens: number, now: Date): Promise<ReservationRow | null> {
  const rows = await db.$queryRaw<{ reservation: ReservationRow | null }[]>`
    WITH r AS (
      UPDATE ai_usage_reservations
         SET status = 'SETTLED', actual_tokens = ${actualTokens}::int, finished_at = ${now}::timestamptz
       WHERE id = ${id} AND status IN ('RESERVED', 'EXPIRED')
      RETURNING id, user_id, item_id, idempotency_key, status, estimated_tokens, actual_tokens, day, month, created_at, expires_at
    ), d AS (
      UPDATE ai_daily_usage u SET tokens = u.tokens + (${actualTokens}::int - r.estimated_tokens)
        FROM r WHERE u.user_id = r.user_id AND u.day = r.day
      RETURNING 1
    ), m AS (
      UPDATE ai_monthly_usage u SET tokens = u.tokens + (${actualTokens}::int - r.estimated_tokens)
        FROM r WHERE u.user_id = r.user_id AND u.month = r.month
      RETURNING 1
    )
    SELECT (SELECT to_jsonb(r) FROM r) AS reservation, (SELECT count(*) FROM d) AS d, (SELECT count(*) FROM m) AS m`;
  return rows[0]?.reservation ? jsonReservation(rows[0].reservation) : null;
}

/**
 * RESERVED or EXPIRED → RELEASED, refunding the enrichment and the estimated tokens of the
 * reservation's own day and month (the call is refunded by the status: RELEASED is not counted in
 * the rolling hour). Happens once, for the same reason as settle.
 */
export async function releaseReservation(db: Db, id: string, now: Date): Promise<ReservationRow | null> {
  const rows = await db.$queryRaw<{ reservation: ReservationRow | null }[]>`
    WITH r AS (
      UPDATE ai_usage_reservations
         SET status = 'RELEASED', finished_at = ${now}::timestamptz
       WHERE id = ${id} AND status IN ('RESERVED', 'EXPIRED')
      RETURNING id, user_id, item_id, idempotency_key, status, estimated_tokens, actual_tokens, day, month, created_at, expires_at
    ), d AS (
      UPDATE ai_daily_usage u SET enrichments = u.enrichments - 1, tokens = u.tokens - r.estimated_tokens
        FROM r WHERE u.user_id = r.user_id AND u.day = r.day
      RETURNING 1
    ), m AS (
      UPDATE ai_monthly_usage u SET tokens = u.tokens - r.estimated_tokens
        FROM r WHERE u.user_id = r.user_id AND u.month = r.month
      RETURNING 1
    )
    SELECT (SELECT to_jsonb(r) FROM r) AS reservation, (SELECT count(*) FROM d) AS d, (SELECT count(*) FROM m) AS m`;
  return rows[0]?.reservation ? jsonReservation(rows[0].reservation) : null;
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

/** Ids of RESERVED reservations created before `before` whose item row does not exist. */
export async function findOrphans(db: Db, before: Date, batch: number): Promise<string[]> {
  const rows = await db.$queryRaw<{ id: string }[]>`
    SELECT r.id FROM ai_usage_reservations r
     WHERE r.status = 'RESERVED' AND r.created_at < ${before}::timestamptz
       AND NOT EXISTS (SELECT 1 FROM items i WHERE i.id = r.item_id)
     ORDER BY r.created_at LIMIT ${batch}::int`;
  return rows.map((r) => r.id);
}
