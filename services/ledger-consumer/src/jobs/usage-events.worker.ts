import { QUEUE_NAMES, type UsageEvent } from '@qv/contracts';
import type { KeyedBatcherOptions } from '@qv/http';
import { InvalidUsageEventError, ReservationNotVisibleError, usageEventBatcher, type LedgerDb, type SettledUsageCounter } from '@qv/ledger';
import { bullTelemetry, dispatchJobs } from '@qv/queue';
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
 * Consumes `usage-events`, the events run at once applied together (usageEventBatcher). A crash mid-event leaves the BullMQ job active; stall detection hands it
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
  /** The ledger's counters (libs/ledger settledUsageCounter). */
  count: SettledUsageCounter;
  options: UsageEventsWorkerOptions;
}): Worker {
  const batcher = usageEventBatcher(deps.db, deps.options.batching ?? { maxBatch: 1, maxInFlight: Number.POSITIVE_INFINITY });
  const apply = async (event: UsageEvent) => {
    try {
      const outcome = await batcher.run(event);
      deps.count(event, outcome);
      return outcome;
    } catch (err) {
      if (err instanceof InvalidUsageEventError) throw new UnrecoverableError(err.message);
      if (err instanceof ReservationNotVisibleError) deps.count(event, 'deferred');
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
