import { QUEUE_NAMES, UsageEvent } from '@qv/contracts';
import type { PrismaClient } from '@qv/db';
import { applyUsageEvent } from '@qv/ledger';
import type { Counter } from '@qv/telemetry';
import { UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Consumes `usage-events`. A crash mid-event leaves the BullMQ job active; stall detection hands it
 * to another consumer, and the ledger's unique event id makes the repeat a no-op. A payload that
 * does not parse can never succeed: it fails at once and stays in the failed set for ops.
 */
export function startUsageEventsWorker(deps: {
  prisma: PrismaClient;
  connection: Redis;
  prefix: string;
  concurrency: number;
  logger: Logger;
  applied: Counter<string>;
}): Worker {
  const worker = new Worker(
    QUEUE_NAMES.usageEvents,
    async (job) => {
      const parsed = UsageEvent.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`invalid usage event: ${parsed.error.message}`);
      const outcome = await applyUsageEvent(deps.prisma, parsed.data);
      deps.applied.inc({ type: parsed.data.type, outcome });
      return outcome;
    },
    { connection: deps.connection, prefix: deps.prefix, concurrency: deps.concurrency, lockDuration: 30_000, stalledInterval: 15_000, maxStalledCount: 5 },
  );
  worker.on('error', (err) => deps.logger.error({ err: err.message }, 'usage-events worker error'));
  worker.on('failed', (job, err) => deps.logger.error({ jobId: job?.id, err: err.message, attemptsMade: job?.attemptsMade }, 'usage event failed'));
  return worker;
}
