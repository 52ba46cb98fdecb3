import type { QuotaErrorCode, Reservation, ReservationStatus } from '@qv/contracts';
import { prepared, type SqlPort } from '@qv/db/sql';
import type { ChargedLimits } from '../domain/limits';
import type { UsageSnapshot } from '../domain/usage';

/**
 * The whole charge as one statement: `quota_charge` (prisma/functions/040_quota_charge.sql) locks
 * the user, resolves the limits, answers a repeated idempotency key, runs the five checks and
 * writes the reservation and the counters, in the caller's transaction. One round trip.
 * Exported so the benchmark's raw baseline runs exactly this text.
 */
export const CHARGE_SQL = prepared('SELECT * FROM quota_charge($1::text, $2::text, $3::text, $4::int, $5::text, $6::timestamptz, $7::int)');

export interface ChargeCallArgs {
  userId: string;
  itemId: string;
  idempotencyKey: string;
  estimatedTokens: number;
  /** The id the reservation gets if the charge is accepted. */
  reservationId: string;
  now: Date;
  ttlSeconds: number;
}

/** The parameters of CHARGE_SQL, in order. */
export function chargeParams(a: ChargeCallArgs): [string, string, string, number, string, Date, number] {
  return [a.userId, a.itemId, a.idempotencyKey, a.estimatedTokens, a.reservationId, a.now, a.ttlSeconds];
}

export type ChargeOutcome = 'accepted' | 'replayed' | 'refused' | 'unknown_user' | 'key_reused';

/** The row of `quota_charge` as node-postgres returns it (bigint → string). */
export interface ChargeRow {
  outcome: ChargeOutcome;
  code: QuotaErrorCode | null;
  plan_id: string | null;
  concurrent_jobs: Big;
  calls_per_hour: Big;
  enrichments_per_day: Big;
  tokens_per_day: Big;
  tokens_per_month: Big;
  in_flight: number | null;
  earliest_expiry: Date | null;
  calls_in_hour: number | null;
  oldest_call_at: Date | null;
  enrichments_today: number | null;
  tokens_today: Big;
  tokens_this_month: Big;
  freeing_call_at: Date | null;
  r_id: string | null;
  r_user_id: string | null;
  r_item_id: string | null;
  r_status: string | null;
  r_estimated_tokens: number | null;
  r_actual_tokens: number | null;
  r_created_at: Date | null;
  r_expires_at: Date | null;
}
type Big = bigint | string | number | null;

/** What `quota_charge` decided, and the figures (the usage as it stands after the call). */
export interface ChargeCall {
  outcome: ChargeOutcome;
  /** The first failing check when refused. */
  code: QuotaErrorCode | null;
  planId: string;
  limits: ChargedLimits;
  usage: UsageSnapshot;
  /** Hourly refusals: created_at of the counted call that has to leave the rolling hour first. */
  freeingCallAt: Date | null;
  /** accepted: the new reservation; replayed: the first one; otherwise null. */
  reservation: Reservation | null;
}

const num = (v: Big): number | null => (v === null ? null : Number(v));
const date = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));

/** The limits and usage columns that quota_charge and the status query share. */
export type LimitsUsageRow = Pick<
  ChargeRow,
  | 'plan_id' | 'concurrent_jobs' | 'calls_per_hour' | 'enrichments_per_day' | 'tokens_per_day' | 'tokens_per_month'
  | 'in_flight' | 'earliest_expiry' | 'calls_in_hour' | 'oldest_call_at' | 'enrichments_today' | 'tokens_today' | 'tokens_this_month'
>;

export function limitsOf(row: LimitsUsageRow): ChargedLimits {
  return {
    concurrentJobs: num(row.concurrent_jobs),
    callsPerHour: num(row.calls_per_hour),
    enrichmentsPerDay: num(row.enrichments_per_day),
    tokensPerDay: num(row.tokens_per_day),
    tokensPerMonth: num(row.tokens_per_month),
  };
}

export function usageOf(row: LimitsUsageRow): UsageSnapshot {
  return {
    inFlight: row.in_flight ?? 0,
    earliestExpiry: date(row.earliest_expiry),
    callsInHour: row.calls_in_hour ?? 0,
    oldestCallAt: date(row.oldest_call_at),
    enrichmentsToday: row.enrichments_today ?? 0,
    tokensToday: num(row.tokens_today) ?? 0,
    tokensThisMonth: num(row.tokens_this_month) ?? 0,
  };
}

/** Maps a `quota_charge` row. */
export function toChargeCall(row: ChargeRow): ChargeCall {
  return {
    outcome: row.outcome,
    code: row.code,
    planId: row.plan_id ?? '',
    limits: limitsOf(row),
    usage: usageOf(row),
    freeingCallAt: date(row.freeing_call_at),
    reservation:
      row.r_id === null
        ? null
        : {
            id: row.r_id,
            userId: row.r_user_id as string,
            itemId: row.r_item_id as string,
            status: row.r_status as ReservationStatus,
            estimatedTokens: Number(row.r_estimated_tokens),
            actualTokens: row.r_actual_tokens === null ? null : Number(row.r_actual_tokens),
            createdAt: (date(row.r_created_at) as Date).toISOString(),
            expiresAt: (date(row.r_expires_at) as Date).toISOString(),
          },
  };
}

/** Runs `quota_charge` once on `db` (a pool: its own implicit transaction; a client in a transaction: inside it). */
export async function callCharge(db: SqlPort, args: ChargeCallArgs): Promise<ChargeCall> {
  const { rows } = await db.query<ChargeRow>(CHARGE_SQL, chargeParams(args));
  return toChargeCall(rows[0]);
}

/**
 * Many charges in ONE statement, so in one transaction and one commit: `quota_charge` once per row,
 * in the order given. The caller gives them ordered by user id, so that two such statements take
 * the users' locks in the same order and never wait on each other in a cycle.
 */
export const CHARGE_MANY_SQL = prepared(`SELECT b.n, c.* FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[]) WITH ORDINALITY AS b(user_id, item_id, idempotency_key, estimated, reservation_id, n)
  CROSS JOIN LATERAL quota_charge(b.user_id, b.item_id, b.idempotency_key, b.estimated, b.reservation_id, $6::timestamptz, $7::int) AS c
  ORDER BY b.n`);

/** Runs `quota_charge` for each of `args` (sharing one `now` and TTL) in one statement; the calls in the same order. */
export async function callChargeMany(db: SqlPort, args: Omit<ChargeCallArgs, 'now' | 'ttlSeconds'>[], now: Date, ttlSeconds: number): Promise<ChargeCall[]> {
  const { rows } = await db.query<ChargeRow & { n: string }>(CHARGE_MANY_SQL, [
    args.map((a) => a.userId),
    args.map((a) => a.itemId),
    args.map((a) => a.idempotencyKey),
    args.map((a) => a.estimatedTokens),
    args.map((a) => a.reservationId),
    now,
    ttlSeconds,
  ]);
  if (rows.length !== args.length) throw new Error(`quota_charge answered ${rows.length} rows for ${args.length} charges`);
  return rows.map(toChargeCall);
}
