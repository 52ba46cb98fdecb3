import type { UsageEvent } from '@qv/contracts';
import type { KeyedBatcher } from '@qv/http';
import type { ApplyOutcome, SettledUsageCounter } from '@qv/ledger';
import type { UsageEventSink } from '@qv/queue';
import type { Logger } from 'pino';

/**
 * Where the chat path's usage events go: applied to the ledger here, as the call ends, in the same
 * statement ledger-consumer runs (libs/ledger usageEventBatcher: the entry and the settlement in
 * one commit, the events of calls ending together in one statement). A synchronous call has its
 * answer in this process already; sending its event through Redis for another process to apply was
 * two more hops and a third of the path's CPU (bench/gateway.bench.ts).
 *
 * An event that cannot be applied here (PostgreSQL unreachable, a statement that failed, a
 * reservation not visible yet) goes to the usage-events queue instead, where ledger-consumer
 * applies it with retries: nothing settled is lost. It is applied once either way: the ledger's
 * unique event id makes a second apply of the same event a no-op.
 */
export class ChatSettlement implements UsageEventSink {
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
      this.deps.logger.warn({ err: err instanceof Error ? err.message : String(err), eventId: event.eventId }, 'chat usage event not applied here: queued for ledger-consumer');
      return this.deps.fallback.publish(event);
    }
    this.deps.count(event, outcome);
  }
}
