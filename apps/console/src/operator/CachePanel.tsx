import type { CachePurgeInput, QuotaVaultClient } from '@qv/client';
import { useState } from 'react';
import { describeError } from '../api';
import { num, percent, usd } from '../format';
import { usePoll } from '../use-poll';

const TIERS = ['system', 'session', 'content'] as const;

/** GET /admin/cache/stats per tier, and POST /admin/cache/purge (a tier, a user, or everything). */
export function CachePanel({ client }: { client: QuotaVaultClient }) {
  const stats = usePoll(() => client.admin.getCacheStats(), 3000);
  const [tier, setTier] = useState<'' | (typeof TIERS)[number]>('');
  const [userId, setUserId] = useState('');
  const [notice, setNotice] = useState<string>();

  const purge = async () => {
    const body: CachePurgeInput = { ...(tier ? { tier } : {}), ...(userId.trim() ? { userId: userId.trim() } : {}) };
    try {
      const { purged } = await client.admin.purgeCache(body);
      setNotice(`Purged ${num(purged)} entries.`);
    } catch (err) {
      setNotice(describeError(err));
    }
    await stats.refresh();
  };

  return (
    <section className="card cache" aria-label="Cache">
      <h2>Cache</h2>
      {stats.error !== undefined && <p className="error">{describeError(stats.error)}</p>}
      <table>
        <thead>
          <tr><th>Tier</th><th>Entries</th><th>Hits</th><th>Misses</th><th>Hit ratio</th><th>Tokens saved</th><th>Cost saved</th></tr>
        </thead>
        <tbody>
          {TIERS.map((name) => {
            const t = stats.data?.tiers[name];
            return (
              <tr key={name} data-testid={`cache-tier-${name}`} data-hits={t?.hits ?? ''}>
                <td>{name}</td>
                <td>{t ? num(t.entries) : '…'}</td>
                <td className="hits">{t ? num(t.hits) : '…'}</td>
                <td>{t ? num(t.misses) : '…'}</td>
                <td>{t ? percent(t.hitRatio) : '…'}</td>
                <td>{t ? num(t.tokensSaved) : '…'}</td>
                <td>{t ? usd(t.costSavedUsd) : '…'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <div className="actions">
        <label>
          Tier
          <select value={tier} onChange={(e) => setTier(e.target.value as typeof tier)}>
            <option value="">every tier</option>
            {TIERS.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </label>
        <label>User id (optional)<input value={userId} onChange={(e) => setUserId(e.target.value)} /></label>
        <button type="button" className="danger" onClick={purge}>Purge</button>
      </div>
      {notice && <p className="notice">{notice}</p>}
    </section>
  );
}
