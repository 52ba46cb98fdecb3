import { JOB_CATALOG, QUEUE_NAMES, type JobName, type JobPayload, type JobSpec } from '@qv/contracts';
import { Queue, type JobsOptions } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { bullTelemetry, rememberEnqueueContext } from './telemetry';

export { QUEUE_NAMES };

/**
 * BullMQ's prefix for this deployment (REDIS_PREFIX); tests give each file its own. The `{bull}`
 * hash tag puts every key of every queue in one Redis Cluster slot, as BullMQ requires (its scripts
 * touch several keys of a queue at once; the fairness sets live under the queue's keys too), and
 * leaves `<REDIS_PREFIX>:*` matching all of a deployment's keys.
 */
export function bullPrefix(redisPrefix: string): string {
  return `${redisPrefix}:{bull}`;
}

export function createQueue(name: string, connection: Redis | Cluster, redisPrefix: string): Queue {
  return new Queue(name, { connection, prefix: bullPrefix(redisPrefix), telemetry: bullTelemetry() });
}

/**
 * The options a job of the catalog is enqueued with: its id (so a second enqueue is a no-op), and
 * its attempts, backoff and retention from JOB_CATALOG. A job of a fair queue gets priority 1 (a
 * user's first job) unless `addFairly` ranks it: BullMQ runs unprioritized jobs before every
 * prioritized one, so a job enqueued without a priority would jump the fair order. The trace
 * context it is enqueued in is remembered (./telemetry), so its job continues that trace.
 */
export function jobOptions(name: JobName, jobId: string): JobsOptions & { jobId: string } {
  const spec: JobSpec = JOB_CATALOG[name];
  return rememberEnqueueContext({
    jobId,
    ...(spec.fair ? { priority: 1 } : {}),
    attempts: spec.attempts,
    ...(spec.backoff ? { backoff: { type: spec.backoff.type, delay: spec.backoff.delay } } : {}),
    removeOnComplete: spec.keepCompletedSeconds === true ? true : { age: spec.keepCompletedSeconds, count: 10_000 },
    removeOnFail: spec.keepFailedSeconds === false ? false : { age: spec.keepFailedSeconds },
  }) as JobsOptions & { jobId: string };
}

/**
 * Adds one job of the catalog, its payload validated against the catalog's schema first (a bad
 * payload never reaches Redis).
 */
export async function addJob<N extends JobName>(queue: Queue, name: N, payload: JobPayload<N>, jobId: string): Promise<void> {
  JOB_CATALOG[name].schema.parse(payload);
  await queue.add(name, payload, jobOptions(name, jobId));
}

/**
 * Exponential backoff with full jitter: a random delay in [base·2^(n-1)/2, base·2^(n-1)], so
 * retries of many jobs failing together do not arrive together. Capped at 60 s.
 */
export function jitteredBackoff(attemptsMade: number, baseMs: number, random = Math.random): number {
  const ceiling = Math.min(60_000, baseMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
