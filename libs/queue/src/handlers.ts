import { JOB_CATALOG, type JobName, type JobPayload, type JobsOf, type QueueName } from '@qv/contracts';
import { UnrecoverableError, type Job } from 'bullmq';

/** One handler per job of a queue: a job of the catalog without its handler does not compile. */
export type JobHandlers<Q extends QueueName> = { [N in JobsOf<Q>]: (payload: JobPayload<N>, job: Job) => Promise<unknown> };

/**
 * The processor of a BullMQ Worker over `queue`: picks the job's handler by its name and hands it
 * the payload parsed by the catalog's schema. A job whose name or payload the catalog does not know
 * can never succeed: it fails at once, without its remaining attempts, and stays for ops.
 */
export function dispatchJobs<Q extends QueueName>(queue: Q, handlers: JobHandlers<Q>): (job: Job) => Promise<unknown> {
  return async (job) => {
    const name = job.name as JobName;
    const spec = Object.hasOwn(JOB_CATALOG, name) ? JOB_CATALOG[name] : undefined;
    const handler = spec && spec.queue === queue ? (handlers as Record<string, (payload: unknown, job: Job) => Promise<unknown>>)[name] : undefined;
    if (!spec || !handler) throw new UnrecoverableError(`no handler for job "${job.name}" on ${queue}`);
    const parsed = spec.schema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid ${job.name} payload: ${parsed.error.message}`);
    return handler(parsed.data, job);
  };
}
