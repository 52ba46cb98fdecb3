import type { Overview, QuotaVaultClient } from '@qv/client';
import { useRef } from 'react';
import { describeError } from '../api';
import { num, percent, time } from '../format';
import { usePoll } from '../use-poll';

const STATES = ['wait', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;

interface Reading {
  at: number;
  overview: Overview;
}

/** The drift tile's window: today and yesterday (UTC), what ledger-consumer's drift check covers. */
const driftSince = () => new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

/**
 * Queue depths and quota refusals (GET /admin/overview), with dead letters, drift and cache hit
 * ratios at a glance. The refusal rate is the difference between two readings of this replica's
 * counters; Prometheus has the sum over every replica. Polled every few seconds while the tab is
 * open, so each reading is cheap: the dead letters counted from the queue's depth, the drift of
 * two days and only its drifting rows.
 */
export function OverviewPanel({ client }: { client: QuotaVaultClient }) {
  const last = useRef<Reading | undefined>(undefined);
  const polled = usePoll(async () => {
    const [overview, cache, rec] = await Promise.all([client.admin.getOverview(), client.admin.getCacheStats(), client.admin.getReconciliation({ since: driftSince(), drifting: true })]);
    const at = Date.now();
    // The refusal rate over one poll interval: this reading less the one before it.
    const prev = last.current;
    last.current = { at, overview };
    const window = prev && at > prev.at ? { seconds: (at - prev.at) / 1000, refused: overview.createRequests.refused - prev.overview.createRequests.refused } : undefined;
    return { overview, window, dlq: overview.deadLetters, cache, drift: rec.totalDrift, driftRows: `${rec.rows.length}${rec.truncated ? '+' : ''}` };
  }, 3000);
  const o = polled.data;
  const window = o?.window;
  const creates = o?.overview.createRequests;
  return (
    <section className="card overview" aria-label="Overview">
      <h2>Overview</h2>
      {polled.error !== undefined && <p className="error">{describeError(polled.error)}</p>}
      {o && creates && (
        <>
          <ul className="tiles">
            <li className={creates.refused ? 'tile level-warning' : 'tile level-ok'} data-testid="refusals" data-refused={creates.refused} data-total={creates.total}>
              <strong>{num(creates.refused)} of {num(creates.total)}</strong> creates refused (429){creates.total ? `, ${percent(creates.refused / creates.total)}` : ''}
              <span className="hint"> since {time(creates.since)}{window && window.seconds > 0 ? ` · last ${Math.round(window.seconds)} s: ${num(Math.round((window.refused * 60) / window.seconds))}/min` : ''}</span>
            </li>
            <li className={o.dlq ? 'tile level-warning' : 'tile level-ok'} data-testid="dead-letters" data-count={o.dlq}><strong>{num(o.dlq)}</strong> dead letters</li>
            <li className={o.drift ? 'tile level-exceeded' : 'tile level-ok'}><strong>{num(o.drift)}</strong> tokens of drift, today and yesterday ({o.driftRows} rows)</li>
            <li className={o.overview.aboveEstimate.reservations ? 'tile level-exceeded' : 'tile level-ok'} data-testid="above-estimate" data-count={o.overview.aboveEstimate.reservations} data-tokens={o.overview.aboveEstimate.tokens}>
              <strong>{num(o.overview.aboveEstimate.reservations)}</strong> calls settled above their estimate today
              <span className="hint">{o.overview.aboveEstimate.tokens ? ` (${num(o.overview.aboveEstimate.tokens)} tokens no charge checked)` : ''}</span>
            </li>
            {Object.entries(o.cache.tiers).map(([tier, t]) => (
              <li key={tier} className="tile"><strong>{percent(t.hitRatio)}</strong> {tier} cache hits ({num(t.hits)}/{num(t.hits + t.misses)})</li>
            ))}
          </ul>
          <h3>Queues</h3>
          <table>
            <thead>
              <tr><th>Queue</th>{STATES.map((s) => <th key={s}>{s}</th>)}</tr>
            </thead>
            <tbody>
              {Object.entries(o.overview.queues).map(([name, counts]) => (
                <tr key={name} data-testid={`queue-${name}`}>
                  <td>{name}</td>
                  {STATES.map((s) => <td key={s} data-state={s}>{num(counts[s])}</td>)}
                </tr>
              ))}
            </tbody>
          </table>
          <p className="hint">Refusals are this api-service replica's answers to POST /v1/items; Prometheus sums every replica (the Grafana dashboard in infra/grafana/).</p>
        </>
      )}
    </section>
  );
}
