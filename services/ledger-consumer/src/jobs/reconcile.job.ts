import type { SqlPort } from '@qv/db';
import { estimateOverruns, reconciliationSummary } from '@qv/ledger';
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
 * table in one statement (one snapshot). Beside it, per day, the reservations settled above their
 * estimate and the tokens past it (`ledger_settled_above_estimate`, `ledger_tokens_above_estimate`;
 * 0 when no day has any), with the users most concerned in a warning each time a day's figure grows: the sign that the estimate
 * does not bound what the provider bills. Runs never overlap.
 */
export function startReconcileJob(deps: { db: SqlPort; intervalMs: number; logger: Logger; drift: Gauge<string>; aboveEstimate: { reservations: Gauge<string>; tokens: Gauge<string> } }): () => Promise<void> {
  const logged = new Map<string, number>();
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

      const overruns = await estimateOverruns(deps.db, since);
      const { reservations, tokens } = deps.aboveEstimate;
      reservations.reset();
      tokens.reset();
      // Today's series from the day's first run on, at 0, so the first overrun of a day is a change an alert sees.
      for (const day of ['all', new Date().toISOString().slice(0, 10)]) {
        reservations.set({ day }, 0);
        tokens.set({ day }, 0);
      }
      for (const day of overruns) {
        reservations.set({ day: day.day }, day.reservations);
        tokens.set({ day: day.day }, day.tokens);
        reservations.inc({ day: 'all' }, day.reservations);
        tokens.inc({ day: 'all' }, day.tokens);
        // Once per growth, not once per run for the rest of the day.
        if (day.tokens > (logged.get(day.day) ?? 0)) deps.logger.warn({ event: 'ledger.above_estimate', ...day }, 'reservations settled above their estimate: the estimate did not bound what the provider billed');
        logged.set(day.day, day.tokens);
      }
      for (const day of logged.keys()) if (day < since) logged.delete(day);
    },
  });
  return () => task.stop();
}
