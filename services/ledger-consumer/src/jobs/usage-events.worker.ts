import { QUEUE_NAMES, type UsageEvent } from '@qv/contracts';
import { KeyedBatcher, type KeyedBatcherOptions } from '@qv/http';
import { applyUsageEvent, applyUsageEvents, InvalidUsageEventError, ReservationNotVisibleError, type ApplyOutcome, type LedgerDb } from '@qv/ledger';
import { bullTelemetry, dispatchJobs } from '@qv/queue';
import type { Counter } from '@qv/telemetry';
import { UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface UsageEventsWorkerOptions {
  concurrency: number;
  /** BullMQ job lock; a consumer that dies holds its jobs this long before they count as stalled. */
  lockDurationMs: number;
  /** How often stalled jobs are looked for and handed back to the wait list. */
  stalledIntervalMs: number;
  /** Stalls a job may survive before it fails; high, since re-applying an event is always safe. */
  maxStalledCount: number;
  /** Events being processed at once applied together (APPLY_BATCH_MAX, APPLY_BATCHES_IN_FLIGHT); absent, each alone. */
  batching?: KeyedBatcherOptions;
}

/**
 * Group commit of events: those the worker runs at once go to PostgreSQL together (applyUsageEvents:
 * one statement, one commit, each event decided by `ledger_apply_usage_event` exactly as alone), a
 * reservation in at most one such statement at a time. A failed statement wrote none of them; each
 * is then applied alone, so only a bad one fails its job.
 */
function eventBatcher(db: LedgerDb, batching: KeyedBatcherOptions): KeyedBatcher<UsageEvent, ApplyOutcome> {
  return new KeyedBatcher<UsageEvent, ApplyOutcome>(
    {
      key: (event) => event.reservationId ?? event.eventId,
      sendBatch: (events) => applyUsageEvents(db, events).then((answers) => answers.map((answer) => (answer instanceof Error ? { error: answer } : { value: answer }))),
      sendOne: (event) => applyUsageEvent(db, event),
      retryAlone: () => true,
    },
    batching,
  );
}

/**
 * Consumes `usage-events`, the events run at once applied together (eventBatcher). A crash mid-event leaves the BullMQ job active; stall detection hands it
 * to another consumer, and the ledger's unique event id makes the repeat a no-op (its one statement
 * either committed whole or not at all). A payload that does not parse, or names another user's
 * reservation, can never succeed: it fails at once and stays in the failed set for ops. An event
 * whose reservation is not visible yet is retried with the event's own backoff.
 */
export function startUsageEventsWorker(deps: {
  /** Where events are applied: the process's pg Pool (one statement per event). */
  db: LedgerDb;
  connection: Redis;
  prefix: string;
  logger: Logger;
  applied: Counter<string>;
  options: UsageEventsWorkerOptions;
}): Worker {
  const batcher = eventBatcher(deps.db, deps.options.batching ?? { maxBatch: 1, maxInFlight: Number.POSITIVE_INFINITY });
  const apply = async (event: UsageEvent) => {
    try {
      const outcome = await batcher.run(event);
      deps.applied.inc({ type: event.type, outcome });
      return outcome;
    } catch (err) {
      if (err instanceof InvalidUsageEventError) throw new UnrecoverableError(err.message);
      if (err instanceof ReservationNotVisibleError) deps.applied.inc({ type: event.type, outcome: 'deferred' });
      throw err;
    }
  };
  const worker = new Worker(
    QUEUE_NAMES.usageEvents,
    dispatchJobs(QUEUE_NAMES.usageEvents, { 'usage.completed': apply, 'usage.failed': apply }),
    {
      connection: deps.connection,
      prefix: deps.prefix,
      telemetry: bullTelemetry(),
      concurrency: deps.options.concurrency,
      lockDuration: deps.options.lockDurationMs,
      stalledInterval: deps.options.stalledIntervalMs,
      maxStalledCount: deps.options.maxStalledCount,
    },
  );
  worker.on('error', (err) => deps.logger.error({ err: err.message }, 'usage-events worker error'));
  worker.on('failed', (job, err) => deps.logger.error({ jobId: job?.id, err: err.message, attemptsMade: job?.attemptsMade }, 'usage event failed'));
  return worker;
}
