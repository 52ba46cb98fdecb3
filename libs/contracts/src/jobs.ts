import { z } from 'zod';
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

/** Each job: its payload schema and its retry policy. */
export const JOB_CATALOG = {
  enrich: { queue: QUEUE_NAMES.enrichment, schema: EnrichmentJob, attempts: 5, backoff: { type: 'jittered', delay: 500 } },
} as const;
export type JobName = keyof typeof JOB_CATALOG;
