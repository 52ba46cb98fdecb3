import { QUEUE_NAMES, type EnrichmentJob } from '@qv/contracts';
import { bullTelemetry, dispatchJobs, jitteredBackoff, releaseFairShare, retryPriority } from '@qv/queue';
import { Worker, UnrecoverableError, type Job, type Queue } from 'bullmq';
import { startPeriodicTask } from '@qv/telemetry';
import type { Redis } from 'ioredis';
import { decideRetry } from './domain/retry-decision';
import { deadLetter, isFinalFailure, sweepFailed, type DeadLetterDeps } from './jobs/dead-letter';
import { enrich, spentOf, type EnrichDeps } from './jobs/enrich.handler';

export interface WorkerOptions {
  connection: Redis;
  prefix: string;
  concurrency: number;
  retryBaseDelayMs: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  deadLetterSweepMs: number;
}

/** Past this many provider 429s one job starts using attempts, so a provider that always refuses cannot loop it forever. */
const MAX_RATE_LIMITED = 20;

/**
 * The enrichment worker: BullMQ Worker over the `enrichment` queue, retry decisions from
 * `decideRetry`, a provider 429 or a call refused by the circuit breaker holding the whole queue
 * (every worker, through BullMQ's queue rate limit), dead letters on the last failure and a
 * periodic sweep of the failed set. A finished job leaves its user's fair share (libs/queue).
 */
export function startEnrichmentWorker(deps: EnrichDeps & DeadLetterDeps, options: WorkerOptions): { worker: Worker; stop: () => Promise<void> } {
  const enrichmentQueue: Queue = deps.enrichmentQueue;
  const enrichOrDecide = async (received: EnrichmentJob, job: Job): Promise<void> => {
    let payload = received;
    try {
      // A job that failed before is a retry to the breaker: its calls say nothing new about the provider.
      await enrich(deps, job.id!, payload, { retry: job.attemptsMade > 0 });
    } catch (err) {
      const spent = spentOf(err);
      if (spent) {
        // Kept with the job, so that the attempt that completes (or its usage.failed) bills it.
        payload = { ...payload, spent };
        await job.updateData(payload).catch((e: unknown) => deps.logger.warn({ err: (e as Error).message, jobId: job.id }, 'could not keep the failed attempt\'s spend with the job; it goes unbilled'));
      }
      const decision = decideRetry(err);
      if (decision.kind === 'circuit_open') {
        // Not counted against MAX_RATE_LIMITED: the breaker itself bounds how long it refuses
        // (it lets a trial call through every BREAKER_HALF_OPEN_MS), and an outage should wait
        // out its length however long, not dead-letter the queue.
        await enrichmentQueue.rateLimit(decision.delayMs);
        throw Worker.RateLimitError();
      }
      const rateLimitedSoFar = payload.rateLimited ?? 0;
      if (decision.kind === 'rate_limited' && rateLimitedSoFar < MAX_RATE_LIMITED) {
        await job.updateData({ ...payload, rateLimited: rateLimitedSoFar + 1 });
        await enrichmentQueue.rateLimit(decision.delayMs);
        deps.logger.warn({ jobId: job.id, delayMs: decision.delayMs }, 'provider rate limit: queue paused for every worker');
        throw Worker.RateLimitError();
      }
      if (err instanceof UnrecoverableError) throw err;
      if (decision.kind === 'give_up') throw new UnrecoverableError(decision.reason);
      throw err instanceof Error ? err : new Error(decision.reason);
    }
  };
  const worker = new Worker(
    QUEUE_NAMES.enrichment,
    dispatchJobs(QUEUE_NAMES.enrichment, { enrich: enrichOrDecide }),
    {
      connection: options.connection,
      prefix: options.prefix,
      telemetry: bullTelemetry(),
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      maxStalledCount: options.maxStalledCount,
      // A huge static limit: manual rate limiting (queue.rateLimit) needs a limiter configured.
      limiter: { max: 1_000_000, duration: 1000 },
      settings: { backoffStrategy: (attemptsMade: number) => jitteredBackoff(attemptsMade, options.retryBaseDelayMs) },
    },
  );
  worker.on('completed', (job) => {
    const userId = (job.data as { userId?: unknown }).userId;
    if (typeof userId !== 'string') return;
    releaseFairShare(enrichmentQueue, userId, job.id!).catch((err) => deps.logger.warn({ err: (err as Error).message, jobId: job.id }, 'could not release the fair share; it expires by itself'));
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    if (!isFinalFailure(job, err)) {
      // Retrying (delayed for its backoff): behind the first turns of other users' items, so one
      // user's failing items cannot keep taking turns ahead of everyone else's (libs/queue fairness).
      job.changePriority({ priority: retryPriority(job.priority) }).catch((e) => deps.logger.warn({ err: (e as Error).message, jobId: job.id }, 'could not move a retry back in line'));
      return;
    }
    deadLetter(deps, job).catch((e) => deps.logger.error({ err: e, jobId: job.id }, 'dead-lettering failed; the sweep will retry'));
  });
  worker.on('error', (err) => deps.logger.error({ err: err.message }, 'worker error'));

  const sweep = startPeriodicTask({ name: 'Worker.deadLetterSweep', intervalMs: options.deadLetterSweepMs, logger: deps.logger, run: () => sweepFailed(deps) });

  return {
    worker,
    stop: async () => {
      const sweepStopped = sweep.stop();
      // close() waits for in-flight jobs to finish; a job cut off by a hard kill is recovered by stall detection.
      await worker.close();
      await sweepStopped;
    },
  };
}
