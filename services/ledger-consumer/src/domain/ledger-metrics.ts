import { Counter, type Registry } from '@qv/telemetry';
import type { Worker } from 'bullmq';
import type { Logger } from 'pino';

/**
 * Tokens and cost as the ledger settled them: counted when an event was applied (not on a
 * duplicate), so a redelivered event is never counted twice.
 */
export function countSettledUsage(registry: Registry, worker: Worker): void {
  const tokens = new Counter({ name: 'ledger_tokens_total', help: 'Tokens settled in the ledger, by model and kind (prompt, completion)', labelNames: ['model', 'kind'], registers: [registry] });
  const cost = new Counter({ name: 'ledger_cost_usd_total', help: 'Provider cost settled in the ledger (USD), by model', labelNames: ['model'], registers: [registry] });
  const saved = new Counter({ name: 'ledger_cache_tokens_saved_total', help: 'Tokens not spent thanks to a cache hit, by tier', labelNames: ['tier'], registers: [registry] });
  worker.on('completed', (job, outcome) => {
    const event = job.data as { type?: string; model?: string; promptTokens?: number; completionTokens?: number; costUsd?: number; cache?: { tier: string | null; hit: boolean; tokensSaved: number } };
    if (outcome !== 'applied' || event.type !== 'usage.completed') return;
    const model = event.model ?? 'unknown';
    tokens.inc({ model, kind: 'prompt' }, event.promptTokens ?? 0);
    tokens.inc({ model, kind: 'completion' }, event.completionTokens ?? 0);
    cost.inc({ model }, event.costUsd ?? 0);
    if (event.cache?.hit && event.cache.tier) saved.inc({ tier: event.cache.tier }, event.cache.tokensSaved);
  });
}

/**
 * The sweeper's report (libs/quota startSweeper logs `{ voided, expired }`) as a counter:
 * `expired` are reservations that reached their TTL unsettled (charged as estimated), `voided`
 * orphans refunded. Returns the logger to hand to startSweeper.
 */
export function sweepMetricsLogger(registry: Registry, logger: Logger): { info: (obj: object, msg: string) => void; error: (obj: object, msg: string) => void } {
  const swept = new Counter({ name: 'quota_reservations_swept_total', help: 'Reservations closed by the sweeper, by outcome (expired: unsettled past their TTL; voided: orphan refunded)', labelNames: ['outcome'], registers: [registry] });
  swept.inc({ outcome: 'expired' }, 0);
  swept.inc({ outcome: 'voided' }, 0);
  return {
    info: (obj, msg) => {
      const { voided, expired } = obj as { voided?: number; expired?: number };
      if (expired) swept.inc({ outcome: 'expired' }, expired);
      if (voided) swept.inc({ outcome: 'voided' }, voided);
      logger.info(obj, msg);
    },
    error: (obj, msg) => logger.error(obj, msg),
  };
}
