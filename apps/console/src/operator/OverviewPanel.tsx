import type { QuotaVaultClient } from '@qv/client';
import { describeError } from '../api';
import { num, percent } from '../format';
import { usePoll } from '../use-poll';

/**
 * What the admin API tells at a glance. Queue depths and the rate of quota refusals are not served
 * by it: they are Prometheus metrics (bullmq_job_count, quota refusals by code) on the Grafana
 * dashboard (infra/grafana/quota-vault.json).
 */
export function OverviewPanel({ client }: { client: QuotaVaultClient }) {
  const overview = usePoll(async () => {
    const [dlq, cache, rec] = await Promise.all([client.admin.listDeadLetters(), client.admin.getCacheStats(), client.admin.getReconciliation()]);
    return { dlq: dlq.length, cache, drift: rec.totalDrift, driftRows: rec.rows.filter((r) => r.drift !== 0).length };
  }, 3000);
  const o = overview.data;
  return (
    <section className="card overview" aria-label="Overview">
      <h2>Overview</h2>
      {overview.error !== undefined && <p className="error">{describeError(overview.error)}</p>}
      {o && (
        <ul className="tiles">
          <li className={o.dlq ? 'tile level-warning' : 'tile level-ok'}><strong>{num(o.dlq)}</strong> dead letters</li>
          <li className={o.drift ? 'tile level-exceeded' : 'tile level-ok'}><strong>{num(o.drift)}</strong> tokens of drift ({num(o.driftRows)} rows)</li>
          {Object.entries(o.cache.tiers).map(([tier, t]) => (
            <li key={tier} className="tile"><strong>{percent(t.hitRatio)}</strong> {tier} cache hits ({num(t.hits)}/{num(t.hits + t.misses)})</li>
          ))}
        </ul>
      )}
      <p className="hint">
        Queue depths and the rate of quota refusals are not in the admin API: read them from Prometheus (<code>bullmq_job_count</code>,
        the refusal counters) or the Grafana dashboard in <code>infra/grafana/quota-vault.json</code>.
      </p>
    </section>
  );
}
