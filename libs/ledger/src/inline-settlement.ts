import type { UsageEvent } from '@qv/contracts';
import type { KeyedBatcher } from '@qv/http';
import type { UsageEventSink } from '@qv/queue';
import type { Logger } from '@qv/telemetry';
import type { ApplyOutcome } from './apply-usage-event';
import type { SettledUsageCounter } from './settled-usage-metrics';

/**
 * Where a usage event goes from the process it arises in (api-service's chat calls, the worker's
 * items): applied to the ledger there, at once, in the statement ledger-consumer runs
 * (usageEventBatcher: the entry and the settlement in one commit, the events that end together in
 * one statement). Sending an event through Redis for another process to apply cost two more hops
 * and, per item, more CPU than the apply itself (bench/pipeline.bench.ts, bench/gateway.bench.ts).
 *
 * An event that cannot be applied here (PostgreSQL unreachable, a statement that failed, a
 * reservation not visible yet) goes to the usage-events queue instead, where ledger-consumer
 * applies it with retries: nothing settled is lost. It is applied once either way: the ledger's
 * unique event id makes a second apply of the same event a no-op.
 */
export class InlineSettlement implements UsageEventSink {
  constructor(
    private readonly deps: {
      ledger: KeyedBatcher<UsageEvent, ApplyOutcome>;
      /** The queue, for the events not applied here. */
      fallback: UsageEventSink;
      count: SettledUsageCounter;
      logger: Logger;
    },
  ) {}

  async publish(event: UsageEvent): Promise<void> {
    let outcome: ApplyOutcome;
    try {
      outcome = await this.deps.ledger.run(event);
    } catch (err) {
      this.deps.logger.warn({ err: err instanceof Error ? err.message : String(err), eventId: event.eventId }, 'usage event not applied here: queued for ledger-consumer');
      return this.deps.fallback.publish(event);
    }
    this.deps.count(event, outcome);
  }
}
