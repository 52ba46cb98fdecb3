import { UsageEvent } from '@qv/contracts';
import type { Queue } from 'bullmq';

/**
 * Publishes usage events. The BullMQ job id is the event id, so publishing the same event again
 * (a retried job re-emitting after a crash) adds nothing; the ledger also applies each id once.
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

/** Event ids are derived from the job id, so every retry of one job emits the same id. BullMQ ids may not contain ':'. */
export const completedEventId = (jobId: string) => `evt_${jobId}_completed`;
export const failedEventId = (jobId: string) => `evt_${jobId}_failed`;
