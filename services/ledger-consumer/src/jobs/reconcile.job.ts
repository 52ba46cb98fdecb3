import type { PrismaClient } from '@qv/db';
import { reconcile } from '@qv/ledger';
import type { Gauge } from '@qv/telemetry';
import type { Logger } from 'pino';

/**
 * Recomputes drift every `intervalMs` (today and yesterday, UTC): the `ledger_drift_tokens` gauge
 * per user/day and one error log line per drifting row, so an alert can fire on `> 0`.
 */
export function startReconcileJob(deps: { prisma: PrismaClient; intervalMs: number; logger: Logger; drift: Gauge<string> }): () => void {
  const run = async () => {
    const since = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const rows = await reconcile(deps.prisma, { since });
    deps.drift.reset();
    let total = 0;
    for (const row of rows) {
      total += row.drift;
      if (row.drift !== 0) {
        deps.drift.set({ day: row.day }, row.drift);
        deps.logger.error({ event: 'ledger.drift', ...row }, 'ledger drift');
      }
    }
    deps.drift.set({ day: 'all' }, total);
  };
  const timer = setInterval(() => run().catch((err) => deps.logger.error({ err }, 'reconciliation failed')), deps.intervalMs);
  timer.unref();
  run().catch((err) => deps.logger.error({ err }, 'reconciliation failed'));
  return () => clearInterval(timer);
}
