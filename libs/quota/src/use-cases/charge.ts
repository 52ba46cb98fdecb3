import { AppError, newId, NotFoundError, QuotaExceededError, type ChargeRequest, type QuotaErrorCode, type QuotaStatus, type Reservation } from '@qv/contracts';
import type { Db, PrismaClient } from '@qv/db';
import { withSpan } from '@qv/telemetry';
import { chargedLimits } from '../domain/limits';
import { buildQuotaStatus, decideCharge, retryAfterFor, usageAfterCharge } from '../domain/usage';
import { dayWindow, monthWindow, rollingHourStart } from '../domain/windows';
import { insertCharge, lockUserLimits, rankedCallAt, readUsage } from '../repositories/quota.repository';
import { toReservation, type ReservationRow } from '../repositories/reservation.mapper';

export interface ChargeOptions {
  /** The clock of the charge: windows, the rolling hour and created_at all derive from it. */
  now: Date;
  /** How long a reservation may stay in flight before the sweeper expires it. */
  reservationTtlSeconds: number;
  /** Interactive transaction limits when `db` is a client (ms). Default 10 000 each. */
  transactionTimeoutMs?: number;
}

/** A charge that went through (or had already gone through under the same idempotency key). */
export interface ChargeAccepted {
  ok: true;
  reservation: Reservation;
  /** The quotas after the charge (for a replay: as they are now). */
  status: QuotaStatus;
  /** true when the idempotency key had been charged before: nothing changed. */
  replayed: boolean;
}

/** A charge refused by the first failing limit; nothing was written. */
export interface ChargeRefused {
  ok: false;
  code: QuotaErrorCode;
  message: string;
  /** Real seconds until that limit frees (the Retry-After header). */
  retryAfterSeconds: number;
  status: QuotaStatus;
}

export type ChargeResult = ChargeAccepted | ChargeRefused;

/** A guard of the conditional write found the counters moved after they were read; retry. */
class GuardMoved extends Error {}

const MAX_ATTEMPTS = 3;

/**
 * Charges one AI call against the user's quotas (DESIGN.md §3): the five checks in order under the
 * user's lock, then a reservation and the day/month counters in one conditional write, all in one
 * READ COMMITTED transaction with no network call inside. Idempotent by `req.idempotencyKey`.
 *
 * `db` may be a client (a transaction is opened) or a transaction the caller owns.
 * Throws NotFoundError for an unknown user and IDEMPOTENCY_KEY_REUSED when the key was charged for
 * another user or item.
 */
export function charge(db: Db, req: ChargeRequest, options: ChargeOptions): Promise<ChargeResult> {
  return withSpan(
    'Quota.charge',
    async (span) => {
      for (let attempt = 1; ; attempt++) {
        try {
          const result = await inTransaction(db, options.transactionTimeoutMs ?? 10_000, (tx) => chargeOnce(tx, req, options));
          span.setAttribute('quota.outcome', result.ok ? (result.replayed ? 'replayed' : 'accepted') : result.code);
          return result;
        } catch (err) {
          // Only a settle that raised a counter between our read and our write gets here.
          if (err instanceof GuardMoved && attempt < MAX_ATTEMPTS) continue;
          throw err;
        }
      }
    },
    { 'quota.user_id': req.userId },
  );
}

async function chargeOnce(tx: Db, req: ChargeRequest, options: ChargeOptions): Promise<ChargeResult> {
  const { now } = options;
  const user = await lockUserLimits(tx, req.userId);
  if (!user) throw new NotFoundError('User');
  const limits = chargedLimits(user.limits);
  const day = dayWindow(now);
  const month = monthWindow(now);
  const hourStart = rollingHourStart(now);
  const { usage, existing } = await readUsage(tx, { userId: req.userId, hourStart, day: day.key, month: month.key, idempotencyKey: req.idempotencyKey });

  if (existing) {
    assertSameCharge(existing, req);
    return { ok: true, reservation: toReservation(existing), status: buildQuotaStatus(user.planId, limits, usage, now), replayed: true };
  }

  const decision = decideCharge(limits, usage, req.estimatedTokens);
  if (!decision.ok) {
    let freeingCallAt: Date | null = null;
    if (decision.code === 'HOURLY_RATE_LIMIT_EXCEEDED' && decision.freeingCallRank !== null) {
      freeingCallAt = decision.freeingCallRank === 1 ? usage.oldestCallAt : await rankedCallAt(tx, { userId: req.userId, hourStart, rank: decision.freeingCallRank });
    }
    return {
      ok: false,
      code: decision.code,
      message: decision.message,
      retryAfterSeconds: retryAfterFor(decision.code, usage, now, freeingCallAt),
      status: buildQuotaStatus(user.planId, limits, usage, now),
    };
  }

  const expiresAt = new Date(now.getTime() + options.reservationTtlSeconds * 1000);
  const written = await insertCharge(tx, {
    id: newId('rsv', now.getTime()),
    userId: req.userId,
    itemId: req.itemId,
    idempotencyKey: req.idempotencyKey,
    estimatedTokens: req.estimatedTokens,
    day: day.key,
    month: month.key,
    now,
    expiresAt,
    enrichmentsPerDay: limits.enrichmentsPerDay,
    tokensPerDay: limits.tokensPerDay,
    tokensPerMonth: limits.tokensPerMonth,
  });
  if (!written.daily || !written.monthly) throw new GuardMoved();
  // Under the user's lock the key was free; a conflict means another user's charge holds it.
  if (!written.reservation) throw keyReused();
  return {
    ok: true,
    reservation: toReservation(written.reservation),
    status: buildQuotaStatus(user.planId, limits, usageAfterCharge(usage, req.estimatedTokens, now, expiresAt), now),
    replayed: false,
  };
}

function assertSameCharge(existing: ReservationRow, req: ChargeRequest): void {
  if (existing.user_id !== req.userId || existing.item_id !== req.itemId) throw keyReused();
}

function keyReused(): AppError {
  return new AppError('IDEMPOTENCY_KEY_REUSED', 'This idempotency key was already used for another charge');
}

/** Runs `fn` in a transaction: a new one on a client, the caller's own when `db` already is one. */
export async function inTransaction<T>(db: Db, timeoutMs: number, fn: (tx: Db) => Promise<T>): Promise<T> {
  if (isClient(db)) return db.$transaction((tx) => fn(tx), { maxWait: timeoutMs, timeout: timeoutMs });
  return fn(db);
}

function isClient(db: Db): db is PrismaClient {
  return typeof (db as Partial<PrismaClient>).$transaction === 'function';
}

/** The refusal as the error the HTTP layer maps to 429 with Retry-After and the status as details. */
export function toQuotaExceededError(refused: ChargeRefused): QuotaExceededError {
  return new QuotaExceededError(refused.code, refused.message, refused.retryAfterSeconds, refused.status);
}
