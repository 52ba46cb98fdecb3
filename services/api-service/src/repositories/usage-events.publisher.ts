import { UsageEvent } from '@qv/contracts';
import type { Queue } from 'bullmq';

/**
 * Publishes the chat path's usage events to `usage-events`, as the enrichment worker does: the
 * BullMQ job id is the event id (publishing one again adds nothing) and ledger-consumer applies
 * each id once, settling or releasing the call's reservation with its ledger entry.
 */
export class UsageEventsPublisher {
  constructor(private readonly queue: Queue) {}

  async publish(event: UsageEvent): Promise<void> {
    UsageEvent.parse(event);
    await this.queue.add(event.type, event, {
      jobId: event.eventId,
      attempts: 20,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: false,
    });
  }
}
