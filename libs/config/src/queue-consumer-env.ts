import { z } from 'zod';
import { positiveInt } from './fields';

/** Each service's own defaults: what its jobs cost and how safely they can be run twice differ. */
export interface QueueConsumerDefaults {
  concurrency: number;
  lockMs: number;
  stallCheckIntervalMs: number;
  maxStalls: number;
}

/**
 * The BullMQ Worker knobs of a service that consumes a queue (enrichment-worker, ledger-consumer):
 * one name and one meaning in every such service, each with its own defaults.
 */
export const queueConsumerEnv = (defaults: QueueConsumerDefaults) => ({
  QUEUE_CONCURRENCY: positiveInt(defaults.concurrency).describe('jobs one process runs at once (BullMQ `concurrency`); the whole system runs this × processes'),
  QUEUE_LOCK_MS: positiveInt(defaults.lockMs).describe(
    'BullMQ job lock (`lockDuration`), renewed while the job runs: a process that dies holds its jobs this long before they count as stalled and go to another',
  ),
  QUEUE_STALL_CHECK_INTERVAL_MS: positiveInt(defaults.stallCheckIntervalMs).describe('how often each process looks for stalled jobs and hands them back to the queue (BullMQ `stalledInterval`)'),
  QUEUE_MAX_STALLS: z.coerce
    .number()
    .int()
    .min(0)
    .default(defaults.maxStalls)
    .describe('stalls a job survives before it fails (BullMQ `maxStalledCount`; `0`: the first stall fails it); the ledger allows more, re-applying an event being always safe'),
});
