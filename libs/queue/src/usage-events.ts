import type { UsageEvent } from '@qv/contracts';
import type { Queue } from 'bullmq';
import { addJob } from './queues';

/**
 * Publishes usage events to `usage-events`, for ledger-consumer (the worker's items and
 * api-service's synchronous calls alike). The BullMQ job id is the event id, so publishing the same
 * event again (a retried job re-emitting after a crash) adds nothing; the ledger also applies each
 * id once.
 */
export class UsageEventsPublisher {
  constructor(private readonly queue: Queue) {}

  async publish(event: UsageEvent): Promise<void> {
    await (event.type === 'usage.completed' ? addJob(this.queue, 'usage.completed', event, event.eventId) : addJob(this.queue, 'usage.failed', event, event.eventId));
  }
}
