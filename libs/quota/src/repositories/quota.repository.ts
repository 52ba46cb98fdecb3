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

/**
 * Locks the user's row for the rest of the transaction and reads the effective limits; null for an
 * unknown user. This lock is what serialises the charges of ONE user: every charge takes it before
 * reading usage, so in READ COMMITTED the next charge's statements see everything the previous one
 * committed. Charges of different users lock different rows and never wait for each other.
 * `FOR NO KEY UPDATE` rather than `FOR UPDATE` so inserts referencing the user (api keys,
 * overrides) do not queue behind charges.
 */
export async function lockUserLimits(db: Db, userId: string): Promise<UserLimits | null> {
  const rows = await db.$queryRaw<LimitsRow[]>`
    SELECT u.plan_id, p.enrichments_per_day, p.concurrent_jobs, p.calls_per_hour, p.tokens_per_day,
           p.tokens_per_month, p.session_ttl_seconds, p.content_ttl_seconds, o.limits AS overrides
      FROM users u
      JOIN plans p ON p.id = u.plan_id
      LEFT JOIN user_quota_overrides o ON o.user_id = u.id
     WHERE u.id = ${userId}
       FOR NO KEY UPDATE OF u`;
  return rows[0] ? toUserLimits(rows[0]) : null;
}

/** The same as `lockUserLimits` without the lock, for reads (status). */
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
  existing: ReservationRow | null;
}

export interface UsageRead {
  usage: UsageSnapshot;
  /** The reservation already stored under the idempotency key asked about, if any. */
  existing: ReservationRow | null;
}

/**
 * Everything the five checks need, in one statement. The rolling hour counts reservations created
 * after `hourStart` (no upper bound, so a call stamped a few ms later by another replica's clock is
 * counted too: conservative, never over) whose status is not RELEASED (a release refunds the call).
 */
export async function readUsage(
  db: Db,
  args: { userId: string; hourStart: Date; day: string; month: string; idempotencyKey?: string },
): Promise<UsageRead> {
  const key = args.idempotencyKey ?? null;
  const rows = await db.$queryRaw<UsageRow[]>`
    SELECT f.in_flight, f.earliest_expiry, h.calls_in_hour, h.oldest_call_at,
           (SELECT enrichments FROM ai_daily_usage WHERE user_id = ${args.userId} AND day = ${args.day}::date) AS enrichments_today,
           (SELECT tokens FROM ai_daily_usage WHERE user_id = ${args.userId} AND day = ${args.day}::date) AS tokens_today,
           (SELECT tokens FROM ai_monthly_usage WHERE user_id = ${args.userId} AND month = ${args.month}::date) AS tokens_this_month,
           (SELECT to_jsonb(r) FROM (
              SELECT id, user_id, item_id, idempotency_key, status, estimated_tokens, actual_tokens, day, month, created_at, expires_at
                FROM ai_usage_reservations WHERE idempotency_key = ${key}::text) r) AS existing
      FROM (SELECT count(*)::int AS in_flight, min(expires_at) AS earliest_expiry
              FROM ai_usage_reservations WHERE user_id = ${args.userId} AND status = 'RESERVED') f,
           (SELECT count(*)::int AS calls_in_hour, min(created_at) AS oldest_call_at
              FROM ai_usage_reservations
             WHERE user_id = ${args.userId} AND created_at > ${args.hourStart}::timestamptz AND status <> 'RELEASED') h`;
  const row = rows[0];
  return {
    usage: {
      inFlight: row.in_flight,
      earliestExpiry: row.earliest_expiry ? new Date(row.earliest_expiry) : null,
      callsInHour: row.calls_in_hour,
      oldestCallAt: row.oldest_call_at ? new Date(row.oldest_call_at) : null,
      enrichmentsToday: row.enrichments_today ?? 0,
      tokensToday: Number(row.tokens_today ?? 0),
      tokensThisMonth: Number(row.tokens_this_month ?? 0),
    },
    existing: row.existing ? jsonReservation(row.existing) : null,
  };
}

// to_jsonb turns timestamps and dates into strings; give them back their types.
function jsonReservation(json: ReservationRow): ReservationRow {
  return { ...json, day: new Date(json.day), month: new Date(json.month), created_at: new Date(json.created_at), expires_at: new Date(json.expires_at) };
}

/** The created_at of the `rank`-th oldest call counted in the rolling hour (1 = the oldest). */
export async function rankedCallAt(db: Db, args: { userId: string; hourStart: Date; rank: number }): Promise<Date | null> {
  const rows = await db.$queryRaw<{ created_at: Date }[]>`
    SELECT created_at FROM ai_usage_reservations
     WHERE user_id = ${args.userId} AND created_at > ${args.hourStart}::timestamptz AND status <> 'RELEASED'
     ORDER BY created_at OFFSET ${args.rank - 1}::int LIMIT 1`;
  return rows[0] ? new Date(rows[0].created_at) : null;
}

export interface InsertChargeArgs {
  id: string;
  userId: string;
  itemId: string;
  idempotencyKey: string;
  estimatedTokens: number;
  day: string;
  month: string;
  now: Date;
  expiresAt: Date;
  enrichmentsPerDay: number | null;
  tokensPerDay: number | null;
  tokensPerMonth: number | null;
}

export interface InsertChargeResult {
  /** false when the daily guard refused (the counters moved since they were read). */
  daily: boolean;
  monthly: boolean;
  reservation: ReservationRow | null;
}

/**
 * The write of a charge, one statement: the daily and monthly counters each move only if the whole
 * cost still fits (STYLE.md "guard the whole cost", checked against the row's latest version), and
 * the reservation row is inserted only if both did. A false flag means the caller must roll back.
 */
export async function insertCharge(db: Db, a: InsertChargeArgs): Promise<InsertChargeResult> {
  const rows = await db.$queryRaw<{ daily: number; monthly: number; reservation: ReservationRow | null }[]>`
    WITH d AS (
      INSERT INTO ai_daily_usage AS u (user_id, day, enrichments, tokens)
      SELECT ${a.userId}, ${a.day}::date, 1, ${a.estimatedTokens}::bigint
       WHERE (${a.enrichmentsPerDay}::int IS NULL OR 1 <= ${a.enrichmentsPerDay}::int)
         AND (${a.tokensPerDay}::bigint IS NULL OR ${a.estimatedTokens}::bigint <= ${a.tokensPerDay}::bigint)
      ON CONFLICT (user_id, day) DO UPDATE
         SET enrichments = u.enrichments + 1, tokens = u.tokens + EXCLUDED.tokens
       WHERE (${a.enrichmentsPerDay}::int IS NULL OR u.enrichments + 1 <= ${a.enrichmentsPerDay}::int)
         AND (${a.tokensPerDay}::bigint IS NULL OR u.tokens + EXCLUDED.tokens <= ${a.tokensPerDay}::bigint)
      RETURNING 1
    ), m AS (
      INSERT INTO ai_monthly_usage AS u (user_id, month, tokens)
      SELECT ${a.userId}, ${a.month}::date, ${a.estimatedTokens}::bigint
       WHERE (${a.tokensPerMonth}::bigint IS NULL OR ${a.estimatedTokens}::bigint <= ${a.tokensPerMonth}::bigint)
      ON CONFLICT (user_id, month) DO UPDATE
         SET tokens = u.tokens + EXCLUDED.tokens
       WHERE (${a.tokensPerMonth}::bigint IS NULL OR u.tokens + EXCLUDED.tokens <= ${a.tokensPerMonth}::bigint)
      RETURNING 1
    ), r AS (
      INSERT INTO ai_usage_reservations (id, user_id, item_id, idempotency_key, status, estimated_tokens, day, month, created_at, expires_at)
      SELECT ${a.id}, ${a.userId}, ${a.itemId}, ${a.idempotencyKey}, 'RESERVED', ${a.estimatedTokens}::int, ${a.day}::date, ${a.month}::date,
             ${a.now}::timestamptz, ${a.expiresAt}::timestamptz
        FROM d, m
      ON CONFLICT (idempotency_key) DO NOTHING
      RETURNING id, user_id, item_id, idempotency_key, status, estimated_tokens, actual_tokens, day, month, created_at, expires_at
    )
    SELECT (SELECT count(*)::int FROM d) AS daily, (SELECT count(*)::int FROM m) AS monthly,
           (SELECT to_jsonb(r) FROM r) AS reservation`;
  const row = rows[0];
  return { daily: row.daily === 1, monthly: row.monthly === 1, reservation: row.reservation ? jsonReservation(row.reservation) : null };
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
