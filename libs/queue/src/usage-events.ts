import { JOB_CATALOG, type UsageEvent } from '@qv/contracts';
import type { Queue } from 'bullmq';
import { jobOptions } from './queues';

/** Publishes one usage event; resolves once it is on the queue. */
export interface UsageEventSink {
  publish(event: UsageEvent): Promise<void>;
}

/**
 * Publishes usage events to `usage-events`, for ledger-consumer (the worker's items and
 * api-service's synchronous calls alike). The BullMQ job id is the event id, so publishing the same
 * event again (a retried job re-emitting after a crash) adds nothing; the ledger also applies each
 * id once. The events of one event-loop turn go to Redis in one `addBulk`: under load one round trip
 * and one socket write carry many events instead of one each. Each caller still waits for its own
 * event to be stored, and a failed batch fails each of them.
 */
export class UsageEventsPublisher implements UsageEventSink {
  private pending: { event: UsageEvent; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly queue: Queue,
    private readonly maxBatch = 256,
  ) {}

  publish(event: UsageEvent): Promise<void> {
    JOB_CATALOG[event.type].schema.parse(event); // a bad payload never reaches Redis, nor spoils a batch
    return new Promise((resolve, reject) => {
      this.pending.push({ event, resolve, reject });
      if (this.pending.length >= this.maxBatch) return void this.flush();
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      await this.queue.addBulk(batch.map(({ event }) => ({ name: event.type, data: event, opts: jobOptions(event.type, event.eventId) })));
      for (const waiter of batch) waiter.resolve();
    } catch (err) {
      for (const waiter of batch) waiter.reject(err);
    }
  }
}
