import { EnrichmentJob, JOB_CATALOG, type JobName } from '@qv/contracts';
import type { OutboxRow, PrismaClient } from '@qv/db';
import { withTimeout } from '@qv/http';
import { jobOptions } from '@qv/queue';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';

/**
 * Moves committed outbox rows onto the queue (DESIGN.md §5). The request path publishes its own
 * row right after the commit; the relay picks up any row left unsent (Redis down, a crash between
 * commit and enqueue). Enqueueing twice is harmless: the job id is the item id, so BullMQ ignores
 * the second add. No database lock is held across the Redis call.
 */
export class OutboxPublisher {
  constructor(
    private readonly deps: { prisma: PrismaClient; queues: Record<string, Queue>; logger: Logger; enqueueTimeoutMs: number },
  ) {}

  /** True when the row is on the queue and marked sent; false leaves it to the relay. */
  async publish(row: OutboxRow): Promise<boolean> {
    const queue = this.deps.queues[row.queue];
    if (!queue) throw new Error(`outbox row ${row.id} names unknown queue ${row.queue}`);
    const name = row.jobName as JobName;
    const payload = JOB_CATALOG[name].schema.parse(row.payload) as EnrichmentJob;
    try {
      await withTimeout(queue.add(name, payload, jobOptions(name, row.jobId)), this.deps.enqueueTimeoutMs);
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message, outboxId: row.id }, 'enqueue failed; the outbox relay will retry');
      return false;
    }
    await this.deps.prisma.outboxMessage.update({ where: { id: row.id }, data: { sentAt: new Date() } });
    return true;
  }

  /** Publishes unsent rows older than `graceMs`, oldest first; returns how many went out. */
  async relayOnce(graceMs: number, batch = 100): Promise<number> {
    const rows = await this.deps.prisma.outboxMessage.findMany({
      where: { sentAt: null, createdAt: { lt: new Date(Date.now() - graceMs) } },
      orderBy: { createdAt: 'asc' },
      take: batch,
    });
    let sent = 0;
    for (const row of rows) {
      if (!(await this.publish(row))) break; // Redis still down: try again next tick
      sent++;
    }
    if (sent) this.deps.logger.info({ sent }, 'outbox relay enqueued unsent rows');
    return sent;
  }

  /** Runs the relay every `intervalMs` until the returned stop is called. */
  startRelay(intervalMs: number, graceMs: number): () => Promise<void> {
    let running: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      running = running.then(() => this.relayOnce(graceMs)).catch((err) => this.deps.logger.error({ err }, 'outbox relay failed'));
    }, intervalMs);
    return async () => {
      clearInterval(timer);
      await running;
    };
  }
}
