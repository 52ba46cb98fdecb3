import type { SqlPort } from '@qv/db';
import { reconcile } from '@qv/ledger';
import { startPeriodicTask, type Gauge } from '@qv/telemetry';
import type { Logger } from 'pino';

/**
 * Recomputes drift every `intervalMs` (today and yesterday, UTC): the `ledger_drift_tokens` gauge
 * per day plus `day="all"` for the total, and one error log line per drifting user/day, so an alert
 * can fire on `> 0`. Drift is 0 even mid-stream: a settlement and its ledger entry commit together
 * and reconcile() reads every table in one statement (one snapshot). Runs never overlap.
 */
export function startReconcileJob(deps: { db: SqlPort; intervalMs: number; logger: Logger; drift: Gauge<string> }): () => Promise<void> {
  const task = startPeriodicTask({
    name: 'Ledger.reconcile',
    intervalMs: deps.intervalMs,
    runAtStart: true,
    logger: deps.logger,
    run: async () => {
      const since = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
      const rows = await reconcile(deps.db, { since });
      deps.drift.reset();
      let total = 0;
      for (const row of rows) {
        total += row.drift;
        if (row.drift !== 0) {
          deps.drift.inc({ day: row.day }, row.drift);
          deps.logger.error({ event: 'ledger.drift', ...row }, 'ledger drift');
        }
      }
      deps.drift.set({ day: 'all' }, total);
    },
  });
  return () => task.stop();
}
