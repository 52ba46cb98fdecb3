import type { SqlPort } from '@qv/db';
import { reconciliationSummary } from '@qv/ledger';
import { startPeriodicTask, type Gauge } from '@qv/telemetry';
import type { Logger } from 'pino';

/** Drifting user-days logged per run (and their days gauged); the `day="all"` gauge sums them all. */
const LOGGED_ROWS = 1000;

/**
 * Recomputes drift every `intervalMs` (today and yesterday, UTC): the `ledger_drift_tokens` gauge
 * per day plus `day="all"` for the total, and one error log line per drifting user/day (the first
 * LOGGED_ROWS), so an alert can fire on `> 0`. Only drifting rows leave PostgreSQL: a day of a
 * hundred thousand users that all agree is a sum, not a hundred thousand rows a minute. Drift is 0
 * even mid-stream: a settlement and its ledger entry commit together and the check reads every
 * table in one statement (one snapshot). Runs never overlap.
 */
export function startReconcileJob(deps: { db: SqlPort; intervalMs: number; logger: Logger; drift: Gauge<string> }): () => Promise<void> {
  const task = startPeriodicTask({
    name: 'Ledger.reconcile',
    intervalMs: deps.intervalMs,
    runAtStart: true,
    logger: deps.logger,
    run: async () => {
      const since = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
      const summary = await reconciliationSummary(deps.db, { since, onlyDrifting: true }, LOGGED_ROWS);
      deps.drift.reset();
      for (const [day, drift] of Object.entries(summary.driftByDay)) deps.drift.set({ day }, drift);
      for (const row of summary.rows) deps.logger.error({ event: 'ledger.drift', ...row }, 'ledger drift');
      if (summary.truncated) deps.logger.error({ event: 'ledger.drift', logged: summary.rows.length, totalDrift: summary.totalDrift }, 'more drifting user-days than logged');
      deps.drift.set({ day: 'all' }, summary.totalDrift);
    },
  });
  return () => task.stop();
}
