import { useMemo, useState } from 'react';
import { clientFor } from '../api';
import { CachePanel } from './CachePanel';
import { DeadLettersPanel } from './DeadLettersPanel';
import { OverviewPanel } from './OverviewPanel';
import { PlansPanel } from './PlansPanel';
import { ReconciliationPanel } from './ReconciliationPanel';
import { UsersPanel } from './UsersPanel';

const TABS = {
  overview: { label: 'Overview', Panel: OverviewPanel },
  dlq: { label: 'Dead letters', Panel: DeadLettersPanel },
  cache: { label: 'Cache', Panel: CachePanel },
  reconciliation: { label: 'Reconciliation', Panel: ReconciliationPanel },
  users: { label: 'Users', Panel: UsersPanel },
  plans: { label: 'Plans', Panel: PlansPanel },
} as const;
type Tab = keyof typeof TABS;

/** The operator's page (an admin key): one tab per area of the admin API. */
export function OperatorView() {
  const client = useMemo(() => clientFor('operator'), []);
  const [tab, setTab] = useState<Tab>('overview');
  const { Panel } = TABS[tab];
  return (
    <div className="operator-view">
      <nav className="tabs" aria-label="Operator areas">
        {(Object.keys(TABS) as Tab[]).map((t) => (
          <button key={t} type="button" className={t === tab ? 'active' : ''} onClick={() => setTab(t)}>
            {TABS[t].label}
          </button>
        ))}
      </nav>
      <Panel client={client} />
    </div>
  );
}
