import { newId, type UsageEvent } from '@qv/contracts';
import { prepared, type SqlPort } from '@qv/db/sql';
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

/** Where an event is applied: the SQL port (a pg Pool, or a client in a transaction). */
export type LedgerDb = SqlPort;

/**
 * The whole apply as one statement: `ledger_apply_usage_event` (prisma/functions/070_ledger_apply_usage_event.sql)
 * locks the reservation, decides `charged`, writes the entry and settles or releases, in the
 * caller's transaction. One round trip. Exported so the benchmark and tests run exactly this text.
 */
export const APPLY_SQL = prepared(
  'SELECT ledger_apply_usage_event($1::text, $2::text, $3::text, $4::text, $5::text, $6::boolean, $7::text, $8::text, $9::int, $10::int, ' +
  '$11::numeric, $12::text, $13::boolean, $14::int, $15::numeric, $16::text, $17::timestamptz) AS outcome',
);

/** The parameters of APPLY_SQL for `event`, in order; `entryId` is the new ledger row's id. */
export function applyParams(event: UsageEvent, now: Date, entryId = newId('led', now.getTime())): unknown[] {
  const c = event.type === 'usage.completed' ? event : null;
  // A failure's tokens are what its work still cost (answers before the call that failed).
  const tokens = c ?? (event.type === 'usage.failed' ? event.spent : undefined);
  return [
    entryId,
    event.eventId,
    event.userId,
    event.itemId,
    event.reservationId,
    event.charged,
    c ? 'completed' : 'failed',
    tokens?.model ?? null,
    tokens?.promptTokens ?? 0,
    tokens?.completionTokens ?? 0,
    String(tokens?.costUsd ?? 0),
    c?.cache.tier ?? null,
    c?.cache.hit ?? false,
    c?.cache.tokensSaved ?? 0,
    String(c?.cache.costSavedUsd ?? 0),
    event.idempotencyKey,
    now,
  ];
}

type SqlOutcome = 'applied' | 'duplicate' | 'not_visible' | 'invalid';

/** Column types of APPLY_SQL's seventeen parameters, for APPLY_MANY_SQL's arrays (the shared `now` last). */
const APPLY_TYPES = ['text', 'text', 'text', 'text', 'text', 'boolean', 'text', 'text', 'int', 'int', 'numeric', 'text', 'boolean', 'int', 'numeric', 'text'];

/**
 * The longest a batch waits for one lock (ms). A row another transaction holds (a long settlement
 * of the same reservation, an operator's open transaction) would otherwise hold every event of
 * the batch, of every user in it, until the statement timeout; past this the statement fails,
 * having written nothing, and its events are applied one by one (usageEventBatcher), where only
 * the locked one waits. Ordinary waits (another batch's commit on a shared day row) are shorter.
 */
export const APPLY_MANY_LOCK_TIMEOUT_MS = 1000;

/**
 * APPLY_SQL for several events in one statement (one round trip, one commit): the calls run in
 * the order of the arrays, which `applyUsageEvents` sorts by user and reservation. The lock
 * timeout is set for this statement's own transaction (`set_config(…, true)`) in a subquery
 * evaluated before any call: a subquery with a volatile target list is not flattened into the join.
 */
export const APPLY_MANY_SQL = prepared(
  `SELECT b.n, ledger_apply_usage_event(${APPLY_TYPES.map((_, i) => `b.a${i + 1}`).join(', ')}, $17::timestamptz) AS outcome
   FROM (SELECT set_config('lock_timeout', '${APPLY_MANY_LOCK_TIMEOUT_MS}ms', true)) AS bounded_lock_wait,
        unnest(${APPLY_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) WITH ORDINALITY AS b(${APPLY_TYPES.map((_, i) => `a${i + 1}`).join(', ')}, n)
   ORDER BY b.n`,
);

/**
 * `applyUsageEvent` for several events in one statement: each decided exactly as alone (the same
 * function, one after another), the whole batch committed together, each answered in `events`'
 * order — its outcome, or its own ReservationNotVisibleError / InvalidUsageEventError. The calls
 * run ordered by user, then reservation, so two batches take the users' day and month rows in one
 * order. A statement that fails (a deadlock with a settlement of another kind, a lost connection)
 * wrote none of them: the caller applies them one by one.
 */
export function applyUsageEvents(db: LedgerDb, events: readonly UsageEvent[], now = new Date()): Promise<Array<ApplyOutcome | Error>> {
  return withSpan(
    'Ledger.applyMany',
    async () => {
      const order = events.map((_, i) => i).sort((x, y) => compareEvents(events[x], events[y]) || x - y);
      const params = order.map((i) => applyParams(events[i], now));
      const { rows } = await db.query<{ n: string; outcome: SqlOutcome }>(APPLY_MANY_SQL, [...APPLY_TYPES.map((_, k) => params.map((p) => p[k])), now]);
      if (rows.length !== events.length) throw new Error(`ledger_apply_usage_event answered ${rows.length} rows for ${events.length} events`);
      const answers: Array<ApplyOutcome | Error> = new Array(events.length);
      order.forEach((i, k) => {
        try {
          answers[i] = outcomeOf(events[i], rows[k].outcome);
        } catch (err) {
          answers[i] = err as Error;
        }
      });
      return answers;
    },
    { 'ledger.events': events.length },
  );
}

const compareEvents = (a: UsageEvent, b: UsageEvent): number =>
  a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : (a.reservationId ?? '') < (b.reservationId ?? '') ? -1 : (a.reservationId ?? '') > (b.reservationId ?? '') ? 1 : 0;

/** The function's answer for `event`, as the consumer sees it: an outcome, or the error that says why not. */
function outcomeOf(event: UsageEvent, outcome: SqlOutcome): ApplyOutcome {
  switch (outcome) {
    case 'applied':
    case 'duplicate':
      return outcome;
    case 'not_visible':
      throw new ReservationNotVisibleError(event.reservationId as string);
    case 'invalid':
      throw new InvalidUsageEventError(`event ${event.eventId} names reservation ${event.reservationId} of another user`);
    default:
      throw new Error(`ledger_apply_usage_event answered ${String(outcome)}`);
  }
}

/**
 * Applies one usage event exactly once: the ledger entry and the settlement (usage.completed) or
 * the release (usage.failed) commit together, in ONE statement (`ledger_apply_usage_event`), and
 * the entry's unique event id makes a second delivery a no-op — whether it arrives later or at the
 * same time (the second waits on the reservation's row lock, or on the unique index entry for an
 * event without a reservation, then finds the event recorded and changes nothing).
 *
 * On a pool the statement is its own transaction; on a client inside a caller's transaction it
 * joins it.
 *
 * `charged` on the entry means "this entry moved the user's counters":
 * - usage.completed: true only when THIS event settled the reservation (RESERVED or EXPIRED →
 *   SETTLED). A completion arriving after a release (or after another event settled the same
 *   reservation) is recorded with its tokens but charges nobody — a RELEASED reservation is never
 *   re-charged, since the refund may already have been spent on other calls.
 * - usage.failed: true only when THIS event released the reservation (giving the enrichment back;
 *   the tokens its work still cost, `spent`, stay counted). A failure after a completion leaves the
 *   reservation SETTLED and is recorded uncharged.
 * - An uncharged dead-letter replay (`charged: false`, no reservation) is recorded, uncharged.
 * Reconciliation compares the charged entries' tokens with the settled and released reservations' actual tokens.
 *
 * Throws ReservationNotVisibleError (retryable) when a charged event's reservation is not found,
 * and InvalidUsageEventError when it belongs to another user; both write nothing.
 */
export function applyUsageEvent(db: LedgerDb, event: UsageEvent, now = new Date()): Promise<ApplyOutcome> {
  return withSpan(
    'Ledger.apply',
    async (span) => {
      const params = applyParams(event, now);
      const { rows } = await db.query<{ outcome: SqlOutcome }>(APPLY_SQL, params);
      const outcome = rows[0].outcome;
      span.setAttribute('ledger.outcome', outcome);
      return outcomeOf(event, outcome);
    },
    { 'ledger.event_id': event.eventId, 'ledger.event_type': event.type },
  );
}
