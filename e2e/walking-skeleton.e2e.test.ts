import type { CreateItemResponse, QuotaStatus, UsagePage } from '@qv/contracts';
import { createUser, eventually, http, simulatorCalls, startStack, waitForItem, type Stack } from '@qv/testing';

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
    const created = await http<CreateItemResponse>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: 'Quota Vault charges every AI call before it is made. It settles the exact tokens afterwards.', title: 'Skeleton' } });
    expect(created.status).toBe(202);
    expect(created.body.item.status).toBe('PENDING');
    expect(created.headers.get('x-ai-quota-limit')).toBe('50');
    expect(created.headers.get('x-ai-quota-remaining')).toBe('49');
    const id = created.body.item.id;

    const done = await waitForItem(stack.api, user.key, id);
    expect(done.status).toBe('DONE');
    const enrichment = done.enrichment!;
    expect(enrichment.summary?.length).toBeGreaterThan(0);
    expect(enrichment.tags?.length).toBeGreaterThan(0);
    expect(enrichment.cached).toBe(false);
    expect(enrichment.promptTokens).toBeGreaterThan(0);
    expect(enrichment.completionTokens).toBeGreaterThan(0);

    const usage = await eventually(async () => {
      const res = await http<UsagePage>('GET', `${stack.api}/v1/usage`, { key: user.key });
      return res.body.entries.length === 1 ? res.body : undefined;
    });
    const [entry] = usage.entries;
    expect(entry).toMatchObject({ itemId: id, kind: 'completed', charged: true, promptTokens: enrichment.promptTokens, completionTokens: enrichment.completionTokens });
    expect(entry.costUsd).toBeGreaterThan(0);

    // Settled: the reservation's estimate was replaced by the actual tokens, and nothing drifts.
    const [reservation] = await stack.db.query<{ status: string; actual_tokens: number }>(`SELECT status, actual_tokens FROM ai_usage_reservations WHERE item_id = $1`, [id]);
    expect(reservation).toEqual({ status: 'SETTLED', actual_tokens: enrichment.promptTokens + enrichment.completionTokens });
    const quota = await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key: user.key });
    expect(quota.body.quotas.tokensPerDay.used).toBe(enrichment.promptTokens + enrichment.completionTokens);
    expect(quota.body.quotas.concurrentJobs.used).toBe(0);
  });
  it('retried after its second task failed, an item on a plan without cache asks the provider for that task alone and bills each task once', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'free');
    const content = `The worker keeps what an attempt got answered. run ${Date.now()} [sim:fail_nth=2]`; // summarize answers, tag fails once
    const created = await http<CreateItemResponse>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content, tasks: ['summarize', 'tag'] } });
    expect(created.status).toBe(202);
    const done = await waitForItem(stack.api, user.key, created.body.item.id);
    expect(done.status).toBe('DONE');
    // summarize, the failed tag, tag again (before: summarize was asked again and billed twice)
    expect(await simulatorCalls(stack.services['llm-simulator']!.url, content)).toBe(3);
    const entry = await eventually(async () => (await http<UsagePage>('GET', `${stack.api}/v1/usage`, { key: user.key })).body.entries[0]);
    expect(entry).toMatchObject({ itemId: done.id, kind: 'completed', promptTokens: done.enrichment!.promptTokens, completionTokens: done.enrichment!.completionTokens });
    const quota = await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key: user.key });
    expect(quota.body.quotas.tokensPerDay.used).toBe(entry.totalTokens);
  });
  it("an item whose answer is cut at its cap is paid once and fails: it is never retried past what it was charged", async () => {
    const user = await createUser(stack.api, stack.adminKey, 'free');
    const content = `A model's answer that runs past its cap. run ${Date.now()} [sim:cut_first=5]`;
    const created = await http<CreateItemResponse>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content, tasks: ['summarize'] } });
    expect(created.status).toBe(202);
    const charged = created.body.quota.quotas.tokensPerDay.used;
    const failed = await waitForItem(stack.api, user.key, created.body.item.id, { until: ['FAILED'], timeoutMs: 60_000 });
    expect(failed.status).toBe('FAILED');
    // One call (before: one per attempt, five, each paid in full): the failure bills it, and the
    // user's tokens never pass what the item was charged.
    expect(await simulatorCalls(stack.services['llm-simulator']!.url, content)).toBe(1);
    const used = async () => (await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key: user.key })).body.quotas.tokensPerDay.used;
    const entry = await eventually(async () => (await http<UsagePage>('GET', `${stack.api}/v1/usage`, { key: user.key })).body.entries.find((e) => e.kind === 'failed'));
    expect(entry.totalTokens).toBe(charged);
    expect(await used()).toBe(charged);
  });
});
