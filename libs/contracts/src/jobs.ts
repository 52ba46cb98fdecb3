import { z } from 'zod';
import { SpentUsage, UsageCompleted, UsageFailed } from './events';
import { TaskName } from './tasks';

/** Queue names are permanent: renaming one strands the jobs already in it. */
export const QUEUE_NAMES = {
  enrichment: 'enrichment',
  enrichmentDead: 'enrichment-dead',
  usageEvents: 'usage-events',
} as const;

/** What an enrichment job needs beyond the item row, fixed when the item was accepted. */
export const EnrichmentJob = z.object({
  v: z.literal(1),
  itemId: z.string(),
  userId: z.string(),
  reservationId: z.string().nullable(),
  tasks: z.array(TaskName).min(1),
  /** false for a dead-letter replay that ops chose not to charge. */
  charged: z.boolean(),
  replayOf: z.string().optional(),
  /** Provider 429s this job has waited out so far (written by the worker; past a bound they use attempts). */
  rateLimited: z.number().int().nonnegative().optional(),
  /**
   * What this job's failed attempts paid the provider for (written by the worker): the tasks
   * answered before another failed, and their answers (`outputs`), which the next attempt uses
   * instead of asking the provider again, whatever the plan's cache. Billed with the attempt that
   * completes, or with the job's usage.failed. (A job written before `outputs` finds its answered
   * tasks in the cache where the plan has one.)
   */
  spent: SpentUsage.extend({ tasks: z.array(TaskName), outputs: z.partialRecord(TaskName, z.json()).optional() }).optional(),
});
export type EnrichmentJob = z.infer<typeof EnrichmentJob>;

/** A job that exhausted its attempts, kept with its history for ops (DESIGN.md §5). */
export const DeadLetterJob = z.object({
  v: z.literal(1),
  job: EnrichmentJob,
  originalJobId: z.string(),
  failedReason: z.string(),
  attemptsMade: z.number().int(),
  errors: z.array(z.string()),
  failedAt: z.string(),
});
export type DeadLetterJob = z.infer<typeof DeadLetterJob>;

export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/** What every job of a kind is enqueued with, read by libs/queue jobOptions (and the workers' backoff). */
export interface JobSpec {
  queue: QueueName;
  schema: z.ZodType;
  attempts: number;
  /** `jittered`: the enrichment worker's own strategy (libs/queue jitteredBackoff); its `delay` is the base. */
  backoff: { type: 'jittered' | 'exponential'; delay: number } | null;
  /** Finished jobs kept (seconds, or true: removed at once), for ops to look at. */
  keepCompletedSeconds: number | true;
  /** Failed jobs kept: seconds, or false for ever (until ops act on them). */
  keepFailedSeconds: number | false;
  /** Jobs of this queue take turns per user (libs/queue addFairly): enqueued with a priority. */
  fair: boolean;
}

/**
 * Every job of every queue: its payload schema (validated where it is added and where it is
 * handled), attempts, backoff and retention. A worker's handlers are a `JobHandlers<queue>`, so a
 * job without a handler does not compile.
 */
export const JOB_CATALOG = {
  enrich: { queue: QUEUE_NAMES.enrichment, schema: EnrichmentJob, attempts: 5, backoff: { type: 'jittered', delay: 500 }, keepCompletedSeconds: 3600, keepFailedSeconds: 7 * 24 * 3600, fair: true },
  // Applying an event is always safe to repeat (the ledger applies each id once), and an event whose
  // charge has not committed yet waits with it: many attempts.
  'usage.completed': { queue: QUEUE_NAMES.usageEvents, schema: UsageCompleted, attempts: 20, backoff: { type: 'exponential', delay: 500 }, keepCompletedSeconds: 24 * 3600, keepFailedSeconds: false, fair: false },
  'usage.failed': { queue: QUEUE_NAMES.usageEvents, schema: UsageFailed, attempts: 20, backoff: { type: 'exponential', delay: 500 }, keepCompletedSeconds: 24 * 3600, keepFailedSeconds: false, fair: false },
  // Never processed: ops read, replay or discard it through the admin API.
  dead: { queue: QUEUE_NAMES.enrichmentDead, schema: DeadLetterJob, attempts: 1, backoff: null, keepCompletedSeconds: true, keepFailedSeconds: false, fair: false },
} as const satisfies Record<string, JobSpec>;
export type JobName = keyof typeof JOB_CATALOG;
export type JobPayload<N extends JobName> = z.infer<(typeof JOB_CATALOG)[N]['schema']>;
/** The jobs a queue holds. */
export type JobsOf<Q extends QueueName> = { [N in JobName]: (typeof JOB_CATALOG)[N]['queue'] extends Q ? N : never }[JobName];
