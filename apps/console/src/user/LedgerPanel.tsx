import type { QuotaVaultClient } from '@qv/client';
import { useState } from 'react';
import { describeError } from '../api';
import { num, time, usd } from '../format';
import { usePoll } from '../use-poll';

const PAGE = 10;

/** GET /v1/usage: the user's ledger, newest first, a page at a time, with today's and this month's totals. */
export function LedgerPanel({ client }: { client: QuotaVaultClient }) {
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const usage = usePoll(() => client.listUsage({ limit: PAGE, ...(cursor ? { cursor } : {}) }), 5000, [cursor]);
  const totals = usage.data?.totals;

  return (
    <section className="card ledger" aria-label="Ledger">
      <h2>Ledger</h2>
      {usage.error !== undefined && <p className="error">{describeError(usage.error)}</p>}
      {totals && (
        <p className="totals">
          Today: {num(totals.today.entries)} entries, {num(totals.today.tokens)} tokens, {usd(totals.today.costUsd)} ({num(totals.today.tokensSaved)} saved by the cache) ·
          This month: {num(totals.month.entries)} entries, {num(totals.month.tokens)} tokens, {usd(totals.month.costUsd)}
        </p>
      )}
      <table>
        <thead>
          <tr>
            <th>When</th><th>Item</th><th>Kind</th><th>Model</th><th>Tokens</th><th>Cost</th><th>Cache</th><th>Charged</th>
          </tr>
        </thead>
        <tbody>
          {(usage.data?.entries ?? []).map((e) => (
            <tr key={e.id} data-testid="ledger-row">
              <td>{time(e.createdAt)}</td>
              <td>{e.itemId}</td>
              <td>{e.kind}</td>
              <td>{e.model ?? '—'}</td>
              <td>{num(e.totalTokens)}</td>
              <td>{usd(e.costUsd)}</td>
              <td>{e.cacheHit ? `hit (${e.cacheTier})` : e.cacheTier ? `miss (${e.cacheTier})` : '—'}</td>
              <td>{e.charged ? 'yes' : 'no (ops replay)'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="pager">
        <button type="button" disabled={cursors.length === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
          Newer
        </button>
        <button type="button" disabled={!usage.data?.nextCursor} onClick={() => setCursors((c) => [...c, usage.data!.nextCursor!])}>
          Older
        </button>
      </div>
    </section>
  );
}
