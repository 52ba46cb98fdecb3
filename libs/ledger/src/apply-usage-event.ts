import { newId, NotFoundError, type Reservation, type UsageEvent } from '@qv/contracts';
import { Prisma, type PrismaClient } from '@qv/db';
import { dayWindow, release, settle } from '@qv/quota';
import { withSpan } from '@qv/telemetry';

export type ApplyOutcome = 'applied' | 'duplicate';

/**
 * The event names a reservation that this transaction cannot see. The charge that created it may
 * not have committed yet (an event racing the charge's answer), so the consumer must retry later
 * rather than record the usage uncharged: nothing was written.
 */
export class ReservationNotVisibleError extends Error {
  readonly retryable = true;
  constructor(readonly reservationId: string) {
    super(`reservation ${reservationId} does not exist (yet); retry the event later`);
    this.name = 'ReservationNotVisibleError';
  }
}

/** The event can never apply (it names another user's reservation). Retrying cannot help. */
export class InvalidUsageEventError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'InvalidUsageEventError';
  }
}

export interface ApplyOptions {
  /** Interactive transaction limits (ms): how long to wait for a connection, and to run. Default 10 000 each. */
  transactionTimeoutMs?: number;
}

/**
 * Applies one usage event exactly once: the ledger entry and the settlement (usage.completed) or
 * the release (usage.failed) commit in ONE transaction, and the entry's unique event id makes a
 * second delivery a no-op — whether it arrives later or at the same time (the loser waits on the
 * reservation row or the unique index entry, finds the event there and rolls back whole).
 *
 * `charged` on the entry means "this entry moved the user's counters":
 * - usage.completed: true only when THIS event settled the reservation (RESERVED or EXPIRED →
 *   SETTLED). A completion arriving after a release (or after another event settled the same
 *   reservation) is recorded with its tokens but charges nobody — a RELEASED reservation is never
 *   re-charged, since the refund may already have been spent on other calls.
 * - usage.failed: true only when THIS event released the reservation. A failure after a completion
 *   leaves the reservation SETTLED and is recorded uncharged, with 0 tokens.
 * - An uncharged dead-letter replay (`charged: false`, no reservation) is recorded, uncharged.
 * Reconciliation compares the charged completed entries with the settled reservations.
 *
 * Throws ReservationNotVisibleError (retryable) when a charged event's reservation is not found,
 * and InvalidUsageEventError when it belongs to another user.
 */
export function applyUsageEvent(prisma: PrismaClient, event: UsageEvent, now = new Date(), options: ApplyOptions = {}): Promise<ApplyOutcome> {
  const timeout = options.transactionTimeoutMs ?? 10_000;
  return withSpan(
    'Ledger.apply',
    async (span) => {
      try {
        const outcome = await prisma.$transaction(
          async (tx) => {
            let reservation: Reservation | null = null;
            let changed = false;
            if (event.charged && event.reservationId) {
              try {
                const change =
                  event.type === 'usage.completed'
                    ? await settle(tx, event.reservationId, event.promptTokens + event.completionTokens, now)
                    : await release(tx, event.reservationId, now);
                reservation = change.reservation;
                changed = change.changed;
              } catch (err) {
                if (err instanceof NotFoundError) throw new ReservationNotVisibleError(event.reservationId);
                throw err;
              }
              if (reservation.userId !== event.userId) throw new InvalidUsageEventError(`event ${event.eventId} names reservation ${reservation.id} of another user`);
            }
            const c = event.type === 'usage.completed' ? event : null;
            // Raw SQL: one round trip, and no query-builder work on the hot path. A conflict on the
            // event id (or the user's idempotency key) means this event is already in the ledger:
            // roll back whatever this transaction did (nothing, in practice: the first delivery
            // already settled the reservation, so this one's settle found nothing to change).
            const inserted = await tx.$queryRaw<Array<{ id: string }>>`
              INSERT INTO ai_usage_ledger (id, event_id, user_id, item_id, reservation_id, kind, model, prompt_tokens, completion_tokens,
                                           total_tokens, cost_usd, cache_tier, cache_hit, tokens_saved, cost_saved_usd, charged,
                                           idempotency_key, day, created_at)
              VALUES (${newId('led', now.getTime())}, ${event.eventId}, ${event.userId}, ${event.itemId}, ${event.reservationId},
                      ${c ? 'completed' : 'failed'}, ${c?.model ?? null}, ${c?.promptTokens ?? 0}::int, ${c?.completionTokens ?? 0}::int,
                      ${c ? c.promptTokens + c.completionTokens : 0}::int, ${String(c?.costUsd ?? 0)}::numeric, ${c?.cache.tier ?? null},
                      ${c?.cache.hit ?? false}, ${c?.cache.tokensSaved ?? 0}::int, ${String(c?.cache.costSavedUsd ?? 0)}::numeric, ${changed},
                      ${event.idempotencyKey}, ${dayKey(reservation, now)}::date, ${now}::timestamptz)
              ON CONFLICT DO NOTHING
              RETURNING id`;
            // The id's time part and created_at come from one clock, so newest-first by id is newest-first by time;
            // the day is the reservation's, the window its tokens count against.
            if (inserted.length === 0) throw new AlreadyApplied();
            return 'applied' as const;
          },
          { maxWait: timeout, timeout },
        );
        span.setAttribute('ledger.outcome', outcome);
        return outcome;
      } catch (err) {
        if (err instanceof AlreadyApplied || (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002')) {
          span.setAttribute('ledger.outcome', 'duplicate');
          return 'duplicate';
        }
        throw err;
      }
    },
    { 'ledger.event_id': event.eventId, 'ledger.event_type': event.type },
  );
}

/** The charge stamps a reservation's day from the same clock as its createdAt: its UTC day. */
function dayKey(reservation: Reservation | null, now: Date): string {
  return dayWindow(reservation ? new Date(reservation.createdAt) : now).key;
}

/** Thrown inside the transaction to roll it back when the event's entry already exists. */
class AlreadyApplied extends Error {}
