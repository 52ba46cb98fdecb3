import { DeadLetterJob, EnrichmentJob, type UsageFailed } from '@qv/contracts';
import { addJob, releaseFairShare } from '@qv/queue';
import { withSpan } from '@qv/telemetry';
import type { Job, Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { ItemsRepository } from '../repositories/items.repository';
import type { UsageEventSink } from '@qv/queue';
import { failedEventId } from '../repositories/usage-event-ids';

export interface DeadLetterDeps {
  enrichmentQueue: Queue;
  deadLetterQueue: Queue;
  items: ItemsRepository;
  /** Where the item's usage event goes (InlineSettlement in the service: applied here, else queued). */
  usage: UsageEventSink;
  logger: Logger;
}

/**
 * Turns a job that failed for good into a dead letter: its item FAILED, `usage.failed` emitted (the
 * ledger releases the reservation), then the job with its error history in the dead-letter queue. Every step is idempotent
 * (DLQ job id = the job's id, event id from the job id), so running it twice for one job — from the
 * `failed` event and from the sweep — is harmless.
 */
export async function deadLetter(deps: DeadLetterDeps, job: Job): Promise<void> {
  await withSpan('Enrichment.deadLetter', async () => {
    const data = EnrichmentJob.parse(job.data);
    const jobId = job.id!;
    const reason = job.failedReason || 'failed';
    const entry: DeadLetterJob = {
      v: 1,
      job: data,
      originalJobId: jobId,
      failedReason: reason,
      attemptsMade: job.attemptsMade,
      errors: (job.stacktrace ?? []).map((s) => s.split('\n')[0]).slice(-20),
      failedAt: new Date(job.finishedOn ?? Date.now()).toISOString(),
    };
    await deps.items.fail(data.itemId, reason);
    const event: UsageFailed = {
      v: 1,
      type: 'usage.failed',
      eventId: failedEventId(jobId),
      userId: data.userId,
      itemId: data.itemId,
      reservationId: data.reservationId,
      idempotencyKey: failedEventId(jobId),
      charged: data.charged,
      occurredAt: new Date().toISOString(),
      reason,
      ...(data.spent ? { spent: { model: data.spent.model, promptTokens: data.spent.promptTokens, completionTokens: data.spent.completionTokens, costUsd: data.spent.costUsd } } : {}),
    };
    await deps.usage.publish(event);
    // Last, so that a dead letter ops can see (and replay) is one whose item is already FAILED
    // and whose release is on its way: a replay can never be overtaken by this job's own FAILED.
    await addJob(deps.deadLetterQueue, 'dead', entry, jobId);
    // Out of the queue for good: no longer part of its user's share of it (idempotent).
    await releaseFairShare(deps.enrichmentQueue, data.userId, jobId);
    await job.remove().catch(() => undefined); // already gone if another sweeper got it first
    deps.logger.warn({ jobId, itemId: data.itemId, reason, attemptsMade: job.attemptsMade }, 'job moved to the dead-letter queue');
  });
}

/**
 * Dead-letters every job in the failed set. Jobs get there by exhausting attempts (the `failed`
 * handler usually dead-letters them first), by an unrecoverable error, or by stalling past
 * BullMQ's stall limit — which skips the remaining attempts and fires no handler in this process
 * if the worker died. This sweep is what guarantees the last case still releases its reservation.
 */
export async function sweepFailed(deps: DeadLetterDeps, batch = 100): Promise<number> {
  const failed = await deps.enrichmentQueue.getFailed(0, batch - 1);
  let moved = 0;
  for (const job of failed) {
    try {
      await deadLetter(deps, job);
      moved++;
    } catch (err) {
      deps.logger.error({ err, jobId: job.id }, 'dead-lettering failed; will retry on the next sweep');
    }
  }
  return moved;
}

export function isFinalFailure(job: Job, err: Error): boolean {
  return err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
}
