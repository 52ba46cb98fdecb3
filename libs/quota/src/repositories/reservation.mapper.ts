import type { Reservation, ReservationStatus } from '@qv/contracts';

/** A row of ai_usage_reservations as raw SQL returns it. */
export interface ReservationRow {
  id: string;
  user_id: string;
  item_id: string;
  idempotency_key: string;
  status: string;
  estimated_tokens: number;
  actual_tokens: number | null;
  day: Date;
  month: Date;
  created_at: Date;
  expires_at: Date;
}

export const RESERVATION_COLUMNS = 'id, user_id, item_id, idempotency_key, status, estimated_tokens, actual_tokens, day, month, created_at, expires_at';

export function toReservation(row: ReservationRow): Reservation {
  return {
    id: row.id,
    userId: row.user_id,
    itemId: row.item_id,
    status: row.status as ReservationStatus,
    estimatedTokens: Number(row.estimated_tokens),
    actualTokens: row.actual_tokens === null ? null : Number(row.actual_tokens),
    createdAt: new Date(row.created_at).toISOString(),
    expiresAt: new Date(row.expires_at).toISOString(),
  };
}
