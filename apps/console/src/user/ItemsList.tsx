import type { Item, QuotaVaultClient } from '@qv/client';
import { useEffect, useState } from 'react';
import { describeError } from '../api';
import { num, time } from '../format';
import { usePoll } from '../use-poll';

const PAGE = 20;
const inFlight = (item: Item) => item.status === 'PENDING' || item.status === 'ENRICHING';

/**
 * The user's items, newest first, polled: faster while any is in flight, so PENDING → ENRICHING →
 * DONE shows as it happens (a dead letter replayed by ops turns DONE here too).
 */
export function ItemsList({ client, createdIds }: { client: QuotaVaultClient; createdIds: string[] }) {
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const [busy, setBusy] = useState(false);
  const page = usePoll(() => client.listItems({ limit: PAGE, ...(cursor ? { cursor } : {}) }), busy ? 500 : 1500, [cursor]);
  const items = page.data?.items ?? [];
  useEffect(() => setBusy(items.some(inFlight)), [items]);
  const { refresh } = page;
  useEffect(() => void refresh(), [createdIds, refresh]);

  return (
    <section className="card items" aria-label="Items">
      <h2>Items</h2>
      {page.error !== undefined && <p className="error">{describeError(page.error)}</p>}
      {items.length === 0 && <p className="hint">No items yet.</p>}
      <ol className="item-list">
        {items.map((item) => (
          <ItemRow key={item.id} item={item} />
        ))}
      </ol>
      <div className="pager">
        <button type="button" disabled={cursors.length === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
          Newer
        </button>
        <button type="button" disabled={!page.data?.nextCursor} onClick={() => setCursors((c) => [...c, page.data!.nextCursor!])}>
          Older
        </button>
      </div>
    </section>
  );
}

function ItemRow({ item }: { item: Item }) {
  const e = item.enrichment;
  const facts = e?.extract ? Object.entries(e.extract) : [];
  return (
    <li className="item" data-testid="item" data-item-id={item.id} data-status={item.status}>
      <div className="item-head">
        <span className={`badge status-${item.status.toLowerCase()}`}>{item.status}</span>
        <strong>{item.title ?? item.content.slice(0, 60)}</strong>
        <span className="hint">{item.id} · {time(item.createdAt)}</span>
      </div>
      {item.error && <p className="error">{item.error}</p>}
      {e && (
        <dl className="enrichment">
          {e.summary !== undefined && (
            <>
              <dt>Summary</dt>
              <dd data-testid="summary">{e.summary}</dd>
            </>
          )}
          {e.tags && (
            <>
              <dt>Tags</dt>
              <dd>{e.tags.map((t) => <span key={t} className="tag">{t}</span>)}</dd>
            </>
          )}
          {facts.length > 0 && (
            <>
              <dt>Facts</dt>
              <dd>
                <ul className="facts">
                  {facts.map(([k, v]) => (
                    <li key={k}>
                      <span className="fact-key">{k}</span>: {typeof v === 'string' ? v : JSON.stringify(v)}
                    </li>
                  ))}
                </ul>
              </dd>
            </>
          )}
          <dt>Model</dt>
          <dd>
            {e.model} · {num(e.promptTokens)} + {num(e.completionTokens)} tokens{e.cached ? ' · from cache' : ''}
          </dd>
        </dl>
      )}
    </li>
  );
}
