import { NotFoundError, type Reservation } from '@qv/contracts';
import type { SqlPort } from '@qv/db';
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
 * Settles the reservation to `actualTokens` (prisma/functions/050_ledger_settle_reservation.sql:
 * its day and month take the actual count, its slot is freed; once only). Joins the caller's
 * transaction when `db` is one. Throws NotFoundError for an unknown id.
 */
export function settle(db: SqlPort, reservationId: string, actualTokens: number, now: Date): Promise<ReservationChange> {
  return withSpan(
    'Quota.settle',
    async () => {
      const changed = await settleReservation(db, reservationId, actualTokens, now);
      return { reservation: await current(db, reservationId), changed };
    },
    { 'quota.reservation_id': reservationId },
  );
}

/**
 * Refunds the reservation (prisma/functions/060_ledger_release_reservation.sql: the enrichment, the
 * call and the estimated tokens; once only; a SETTLED one is left alone). Throws NotFoundError for
 * an unknown id.
 */
export function release(db: SqlPort, reservationId: string, now: Date): Promise<ReservationChange> {
  return withSpan(
    'Quota.release',
    async () => {
      const changed = await releaseReservation(db, reservationId, now);
      return { reservation: await current(db, reservationId), changed };
    },
    { 'quota.reservation_id': reservationId },
  );
}

async function current(db: SqlPort, id: string): Promise<Reservation> {
  const row = await findReservation(db, id);
  if (!row) throw new NotFoundError('Reservation');
  return toReservation(row);
}
