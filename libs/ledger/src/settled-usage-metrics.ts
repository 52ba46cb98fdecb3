import type { UsageEvent } from '@qv/contracts';
import { Counter, type Registry } from '@qv/telemetry';
import type { ApplyOutcome } from './apply-usage-event';

/** Counts one event's outcome where it was applied (`deferred`: its reservation not visible yet). */
export type SettledUsageCounter = (event: UsageEvent, outcome: ApplyOutcome | 'deferred') => void;

/**
 * The ledger's counters, registered by every process that applies events (ledger-consumer, and
 * api-service for its synchronous calls), under the same names, so a sum over the jobs is the
 * whole ledger: events by type and outcome, and tokens, cost and cache savings as the ledger settled
 * them — counted when an event was applied (not on a duplicate), so a redelivered event is never
 * counted twice.
 */
export function settledUsageCounter(registry: Registry): SettledUsageCounter {
  const events = new Counter({ name: 'ledger_events_total', help: 'Usage events by type and outcome (applied, duplicate, deferred)', labelNames: ['type', 'outcome'], registers: [registry] });
  const tokens = new Counter({ name: 'ledger_tokens_total', help: 'Tokens settled in the ledger, by model and kind (prompt, completion)', labelNames: ['model', 'kind'], registers: [registry] });
  const cost = new Counter({ name: 'ledger_cost_usd_total', help: 'Provider cost settled in the ledger (USD), by model', labelNames: ['model'], registers: [registry] });
  const saved = new Counter({ name: 'ledger_cache_tokens_saved_total', help: 'Tokens not spent thanks to a cache hit, by tier', labelNames: ['tier'], registers: [registry] });
  return (event, outcome) => {
    events.inc({ type: event.type, outcome });
    if (outcome !== 'applied' || event.type !== 'usage.completed') return;
    tokens.inc({ model: event.model, kind: 'prompt' }, event.promptTokens);
    tokens.inc({ model: event.model, kind: 'completion' }, event.completionTokens);
    cost.inc({ model: event.model }, event.costUsd);
    if (event.cache.hit && event.cache.tier) saved.inc({ tier: event.cache.tier }, event.cache.tokensSaved);
  };
}
