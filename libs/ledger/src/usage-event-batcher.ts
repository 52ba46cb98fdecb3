import type { UsageEvent } from '@qv/contracts';
import { KeyedBatcher, type KeyedBatcherOptions } from '@qv/http';
import { applyUsageEvent, applyUsageEvents, type ApplyOutcome, type LedgerDb } from './apply-usage-event';

/**
 * Group commit of usage events: those applied at once go to PostgreSQL together (applyUsageEvents:
 * one statement, one commit, each event decided by `ledger_apply_usage_event` exactly as alone), a
 * reservation in at most one such statement at a time. A failed statement wrote none of them; each
 * is then applied alone, so only a bad one fails. Used by ledger-consumer (the queue's events) and
 * by api-service's chat path (its own calls' events, applied where they happen).
 */
export function usageEventBatcher(db: LedgerDb, batching: KeyedBatcherOptions): KeyedBatcher<UsageEvent, ApplyOutcome> {
  return new KeyedBatcher<UsageEvent, ApplyOutcome>(
    {
      key: (event) => event.reservationId ?? event.eventId,
      sendBatch: (events) => applyUsageEvents(db, events).then((answers) => answers.map((answer) => (answer instanceof Error ? { error: answer } : { value: answer }))),
      sendOne: (event) => applyUsageEvent(db, event),
      retryAlone: () => true,
    },
    batching,
  );
}
