import type { QuotaVaultClient } from '@qv/client';
import { useState } from 'react';
import { describeError } from '../api';
import { num } from '../format';
import { usePoll } from '../use-poll';

/** GET /admin/reconciliation: per user and day, reserved, settled, ledger and counter tokens; any drift stands out. */
export function ReconciliationPanel({ client }: { client: QuotaVaultClient }) {
  const [userId, setUserId] = useState('');
  const [since, setSince] = useState('');
  const params = { ...(userId.trim() ? { userId: userId.trim() } : {}), ...(since ? { since } : {}) };
  const rec = usePoll(() => client.admin.getReconciliation(params), 5000, [JSON.stringify(params)]);
  const rows = rec.data?.rows ?? [];
  return (
    <section className="card reconciliation" aria-label="Reconciliation">
      <h2>
        Reconciliation
        {rec.data && (
          <span className={`badge ${rec.data.totalDrift === 0 ? 'level-ok' : 'level-exceeded'}`} data-testid="total-drift">
            total drift {num(rec.data.totalDrift)}
          </span>
        )}
      </h2>
      <div className="filters">
        <label>User id<input value={userId} onChange={(e) => setUserId(e.target.value)} /></label>
        <label>Since (day)<input type="date" value={since} onChange={(e) => setSince(e.target.value)} /></label>
      </div>
      {rec.error !== undefined && <p className="error">{describeError(rec.error)}</p>}
      <table>
        <thead>
          <tr><th>User</th><th>Day</th><th>Reserved</th><th>Settled</th><th>Ledger</th><th>Counter</th><th>Drift</th></tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={`${r.userId}/${r.day}`} className={r.drift !== 0 ? 'drift' : ''} data-testid="reconciliation-row" data-drift={r.drift}>
              <td>{r.userId}</td>
              <td>{r.day}</td>
              <td>{num(r.reservedTokens)}</td>
              <td>{num(r.settledTokens)}</td>
              <td>{num(r.ledgerTokens)}</td>
              <td>{num(r.counterTokens)}</td>
              <td className="drift-cell">{num(r.drift)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rec.data && rows.length === 0 && <p className="hint">No usage in this range.</p>}
    </section>
  );
}
