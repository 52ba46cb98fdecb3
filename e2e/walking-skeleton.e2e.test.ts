import { createUser, eventually, http, startStack, type Stack } from '@qv/testing';

/** One item through all six services as real processes, over HTTP only (issue 3). */
describe('walking skeleton', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('takes an item from POST to DONE and writes its ledger row', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'free');
    const created = await http('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: 'Quota Vault charges every AI call before it is made. It settles the exact tokens afterwards.', title: 'Skeleton' } });
    expect(created.status).toBe(202);
    expect(created.body.item.status).toBe('PENDING');
    expect(created.headers.get('x-ai-quota-limit')).toBe('50');
    expect(created.headers.get('x-ai-quota-remaining')).toBe('49');
    const id = created.body.item.id as string;

    const done = await eventually(async () => {
      const res = await http('GET', `${stack.api}/v1/items/${id}`, { key: user.key });
      return res.body.item.status === 'DONE' ? res.body.item : undefined;
    });
    expect(done.enrichment.summary.length).toBeGreaterThan(0);
    expect(done.enrichment.tags.length).toBeGreaterThan(0);
    expect(done.enrichment.cached).toBe(false);
    expect(done.enrichment.promptTokens).toBeGreaterThan(0);
    expect(done.enrichment.completionTokens).toBeGreaterThan(0);

    const usage = await eventually(async () => {
      const res = await http('GET', `${stack.api}/v1/usage`, { key: user.key });
      return res.body.entries.length === 1 ? res.body : undefined;
    });
    const [entry] = usage.entries;
    expect(entry).toMatchObject({ itemId: id, kind: 'completed', charged: true, promptTokens: done.enrichment.promptTokens, completionTokens: done.enrichment.completionTokens });
    expect(entry.costUsd).toBeGreaterThan(0);

    // Settled: the reservation's estimate was replaced by the actual tokens, and nothing drifts.
    const [reservation] = await stack.db.query<{ status: string; actual_tokens: number }>(`SELECT status, actual_tokens FROM ai_usage_reservations WHERE item_id = $1`, [id]);
    expect(reservation).toEqual({ status: 'SETTLED', actual_tokens: done.enrichment.promptTokens + done.enrichment.completionTokens });
    const quota = await http('GET', `${stack.api}/v1/quota`, { key: user.key });
    expect(quota.body.quotas.tokensPerDay.used).toBe(done.enrichment.promptTokens + done.enrichment.completionTokens);
    expect(quota.body.quotas.concurrentJobs.used).toBe(0);
  });
});
