import type { QuotaStatus, QuotaVaultError } from '@qv/client';
import { useMemo, useState } from 'react';
import { clientFor } from '../api';
import { usePoll } from '../use-poll';
import { CreateItemForm } from './CreateItemForm';
import { ItemsList } from './ItemsList';
import { LedgerPanel } from './LedgerPanel';
import { RefusalBanner } from './RefusalBanner';
import { UsageIndicator } from './UsageIndicator';

/** A user's page: usage per limit, creating items, following them live, the ledger. */
export function UserView() {
  const client = useMemo(() => clientFor('user'), []);
  const [refusal, setRefusal] = useState<QuotaVaultError>();
  // The freshest status wins: a create's answer carries one, and GET /v1/quota is polled.
  const [latestQuota, setLatestQuota] = useState<{ at: number; status: QuotaStatus }>();
  const polled = usePoll(async () => ({ at: Date.now(), status: await client.getQuota() }), 2000);
  const quota = [latestQuota, polled.data].filter((q) => q !== undefined).sort((a, b) => b.at - a.at)[0]?.status;
  const [createdIds, setCreatedIds] = useState<string[]>([]);

  return (
    <div className="user-view">
      <UsageIndicator quota={quota} />
      <RefusalBanner error={refusal} onDismiss={() => setRefusal(undefined)} />
      <CreateItemForm
        client={client}
        onCreated={(item, status) => {
          setRefusal(undefined);
          setLatestQuota({ at: Date.now(), status });
          setCreatedIds((ids) => [item.id, ...ids]);
        }}
        onRefused={(err) => {
          setRefusal(err);
          const status = (err as { quotaStatus?: QuotaStatus }).quotaStatus;
          if (status) setLatestQuota({ at: Date.now(), status });
        }}
      />
      <ItemsList client={client} createdIds={createdIds} />
      <LedgerPanel client={client} />
    </div>
  );
}
