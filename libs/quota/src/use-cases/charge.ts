import { AppError, newId, NotFoundError, QuotaExceededError, type ChargeRequest, type QuotaErrorCode, type QuotaStatus, type Reservation } from '@qv/contracts';
import { withSpan } from '@qv/telemetry';
import { buildQuotaStatus, refusalMessage, retryAfterFor } from '../domain/usage';
import type { SqlPort } from '@qv/db';
import { callCharge, callChargeMany, type ChargeCall } from '../repositories/charge.repository';

export interface ChargeOptions {
  /** The clock of the charge: windows, the rolling hour and created_at all derive from it. */
  now: Date;
  /** How long a reservation may stay in flight before the sweeper expires it. */
  reservationTtlSeconds: number;
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

/**
 * Charges one AI call against the user's quotas (DESIGN.md §3) in ONE statement: the database
 * function `quota_charge` takes the user's lock, runs the five checks in order and, if they pass,
 * writes the reservation and the day/month counters, all in one transaction with no network call
 * inside (prisma/functions/040_quota_charge.sql, the one home of the rules). This function only
 * words its row: messages, Retry-After and levels. Idempotent by `req.idempotencyKey`.
 *
 * `db` is a node-postgres Pool (the statement is its own transaction) or a client with a
 * transaction open, which the charge then joins.
 * Throws NotFoundError for an unknown user and IDEMPOTENCY_KEY_REUSED when the key was charged for
 * another user or item; neither writes anything.
 */
export function charge(db: SqlPort, req: ChargeRequest, options: ChargeOptions): Promise<ChargeResult> {
  return withSpan(
    'Quota.charge',
    async (span) => {
      const { now } = options;
      const call = await callCharge(db, {
        userId: req.userId,
        itemId: req.itemId,
        idempotencyKey: req.idempotencyKey,
        estimatedTokens: req.estimatedTokens,
        reservationId: newId('rsv', now.getTime()),
        now,
        ttlSeconds: options.reservationTtlSeconds,
      });
      const result = toChargeResult(call, req.estimatedTokens, now);
      span.setAttribute('quota.outcome', result.ok ? (result.replayed ? 'replayed' : 'accepted') : result.code);
      return result;
    },
    { 'quota.user_id': req.userId },
  );
}

/**
 * Several charges in one statement and one commit (CHARGE_MANY_SQL): what a caller with many users'
 * charges at once (api-service's batcher) pays one round trip and one commit for. Each charge is
 * decided by `quota_charge` exactly as alone; they run ordered by user id (the lock order), and the
 * answers come back in the order given: a result, or the error that charge alone would throw
 * (unknown user, reused key). A failure of the statement itself (a timeout, a deadlock) rejects
 * the whole: none of them was made.
 */
export function chargeMany(db: SqlPort, reqs: readonly ChargeRequest[], options: ChargeOptions): Promise<Array<ChargeResult | AppError>> {
  return withSpan(
    'Quota.chargeMany',
    async () => {
      const { now } = options;
      const order = reqs.map((_, i) => i).sort((a, b) => (reqs[a].userId < reqs[b].userId ? -1 : reqs[a].userId > reqs[b].userId ? 1 : a - b));
      const calls = await callChargeMany(
        db,
        order.map((i) => ({ userId: reqs[i].userId, itemId: reqs[i].itemId, idempotencyKey: reqs[i].idempotencyKey, estimatedTokens: reqs[i].estimatedTokens, reservationId: newId('rsv', now.getTime()) })),
        now,
        options.reservationTtlSeconds,
      );
      const results: Array<ChargeResult | AppError> = new Array(reqs.length);
      order.forEach((i, k) => {
        try {
          results[i] = toChargeResult(calls[k], reqs[i].estimatedTokens, now);
        } catch (err) {
          results[i] = err as AppError;
        }
      });
      return results;
    },
    { 'quota.charges': reqs.length },
  );
}

/** The answer for one `quota_charge` row: its decision, worded. */
export function toChargeResult(call: ChargeCall, estimatedTokens: number, now: Date): ChargeResult {
  if (call.outcome === 'unknown_user') throw new NotFoundError('User');
  if (call.outcome === 'key_reused') throw keyReused();
  const status = buildQuotaStatus(call.planId, call.limits, call.usage, now);
  if (call.outcome === 'refused') {
    const code = call.code as QuotaErrorCode;
    return { ok: false, code, message: refusalMessage(code, call.limits, call.usage, estimatedTokens), retryAfterSeconds: retryAfterFor(code, call.usage, now, call.freeingCallAt), status };
  }
  return { ok: true, reservation: call.reservation as Reservation, status, replayed: call.outcome === 'replayed' };
}

function keyReused(): AppError {
  return new AppError('IDEMPOTENCY_KEY_REUSED', 'This idempotency key was already used for another charge');
}

/** The refusal as the error the HTTP layer maps to 429 with Retry-After and the status as details. */
export function toQuotaExceededError(refused: ChargeRefused): QuotaExceededError {
  return new QuotaExceededError(refused.code, refused.message, refused.retryAfterSeconds, refused.status);
}
