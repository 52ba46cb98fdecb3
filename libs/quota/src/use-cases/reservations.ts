import { NotFoundError, type Reservation } from '@qv/contracts';
import type { Db } from '@qv/db';
import { withSpan } from '@qv/telemetry';
import { findReservation, releaseReservation, settleReservation } from '../repositories/quota.repository';
import { toReservation } from '../repositories/reservation.mapper';

/** A settle or release: the reservation as it now is, and whether this call changed it. */
export interface ReservationChange {
  reservation: Reservation;
  /** false for a repeat, or when the reservation was already finished the other way. */
  changed: boolean;
}

/**
 * Replaces the reservation's estimate by `actualTokens` in its own day's and month's counters,
 * marks it SETTLED and so frees its concurrency slot. Idempotent: a second settle changes nothing.
 * An EXPIRED reservation settles too (the late worker did run); a RELEASED one does not.
 * A single statement, so it joins the caller's transaction when `db` is one (the ledger applies an
 * event and its settlement together). Throws NotFoundError for an unknown id.
 */
export function settle(db: Db, reservationId: string, actualTokens: number, now: Date): Promise<ReservationChange> {
  return withSpan(
    'Quota.settle',
    async () => {
      const changed = await settleReservation(db, reservationId, actualTokens, now);
      if (changed) return { reservation: toReservation(changed), changed: true };
      return { reservation: await current(db, reservationId), changed: false };
    },
    { 'quota.reservation_id': reservationId },
  );
}

/**
 * Refunds the reservation (the enrichment, the call, the estimated tokens), marks it RELEASED and
 * frees its slot. Idempotent; an EXPIRED reservation is refunded too; a SETTLED one is left alone.
 * Throws NotFoundError for an unknown id.
 */
export function release(db: Db, reservationId: string, now: Date): Promise<ReservationChange> {
  return withSpan(
    'Quota.release',
    async () => {
      const changed = await releaseReservation(db, reservationId, now);
      if (changed) return { reservation: toReservation(changed), changed: true };
      return { reservation: await current(db, reservationId), changed: false };
    },
    { 'quota.reservation_id': reservationId },
  );
}

async function current(db: Db, id: string): Promise<Reservation> {
  const row = await findReservation(db, id);
  if (!row) throw new NotFoundError('Reservation');
  return toReservation(row);
}
