import type { CacheStats, CreateItemResponse, UsagePage } from '@qv/contracts';
import { createUser, eventually, http, simulatorCalls, startStack, waitForItem, type Stack } from '@qv/testing';

/** The cache as the enrichment pipeline uses it (issue 6): per-user tiers, plan TTLs, single flight. */
describe('cache in the pipeline', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ serviceEnv: { 'enrichment-worker': { QUEUE_CONCURRENCY: '24' } } });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const post = (key: string, body: Record<string, unknown>) => http<CreateItemResponse>('POST', `${stack.api}/v1/items`, { key, body });
  const done = (key: string, id: string) => waitForItem(stack.api, key, id, { intervalMs: 50 });
  const enrich = async (key: string, body: Record<string, unknown>) => {
    const res = await post(key, body);
    expect(res.status).toBe(202);
    return done(key, res.body.item.id);
  };
  const llmCalls = (marker: string) => simulatorCalls(stack.services['llm-simulator']!.url, marker);

  it('same content twice for a pro user: the second is a hit with the same output and settles 0 tokens', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const body = { content: 'Caching answers saves tokens. marker-hit-1. The cache never crosses users.', tasks: ['summarize', 'tag'] };
    const first = await enrich(user.key, body);
    const second = await enrich(user.key, body);
    expect(first.enrichment?.cached).toBe(false);
    expect(second.enrichment).toMatchObject({ cached: true, summary: first.enrichment?.summary, tags: first.enrichment?.tags, promptTokens: 0, completionTokens: 0 });
    expect(await llmCalls('marker-hit-1')).toBe(2); // one per task, for the first item only

    const usage = await eventually(async () => {
      const res = await http<UsagePage>('GET', `${stack.api}/v1/usage`, { key: user.key });
      return res.body.entries.length === 2 ? res.body.entries : undefined;
    });
    const hit = usage.find((e) => e.itemId === second.id)!;
    expect(hit).toMatchObject({ cacheHit: true, cacheTier: 'content', totalTokens: 0, charged: true });
    expect(hit.tokensSaved).toBe(first.enrichment!.promptTokens + first.enrichment!.completionTokens);
    expect(hit.costSavedUsd).toBeGreaterThan(0);
    const [reservation] = await stack.db.query<{ actual_tokens: number }>('SELECT actual_tokens FROM ai_usage_reservations WHERE item_id = $1', [second.id]);
    expect(reservation.actual_tokens).toBe(0);

    // The tasks' system prompts live in the shared system tier, durable in PostgreSQL.
    const system = await stack.db.query<{ user_id: string; value: string }>(`SELECT user_id, value #>> '{value}' AS value FROM ai_cache WHERE type = 'system'`);
    expect(system.map((r) => r.user_id)).toEqual(['global', 'global']);
    expect(system.map((r) => r.value.split('\n')[0]).sort()).toEqual(['[qv-task:summarize@1]', '[qv-task:tag@1]']);

    const stats = await http<CacheStats>('GET', `${stack.api}/admin/cache/stats`, { key: stack.adminKey });
    expect(stats.status).toBe(200);
    expect(stats.body.tiers.content.hits).toBeGreaterThanOrEqual(2);
    expect(stats.body.tiers.content.tokensSaved).toBeGreaterThanOrEqual(hit.tokensSaved);
  });

  it('another user with the same content misses; a free user never hits', async () => {
    const body = { content: 'Shared words, separate caches. marker-cross-2.', tasks: ['tag'] };
    const alice = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const bob = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    expect((await enrich(alice.key, body)).enrichment?.cached).toBe(false);
    expect((await enrich(alice.key, body)).enrichment?.cached).toBe(true);
    expect((await enrich(bob.key, body)).enrichment?.cached).toBe(false);
    const free = await createUser(stack.api, stack.adminKey, 'free');
    expect((await enrich(free.key, body)).enrichment?.cached).toBe(false);
    expect((await enrich(free.key, body)).enrichment?.cached).toBe(false);
    expect(await llmCalls('marker-cross-2')).toBe(4); // alice once, bob once, free twice
  });

  it('20 concurrent identical items for one user make exactly 1 LLM call', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'pro_annual');
    const body = { content: 'Single flight: one call for many misses. marker-flight-3 [sim:latency_ms=400]', tasks: ['summarize'] };
    const accepted = await Promise.all(Array.from({ length: 20 }, () => post(user.key, body)));
    expect(accepted.map((r) => r.status)).toEqual(Array(20).fill(202));
    const items = await Promise.all(accepted.map((r) => done(user.key, r.body.item.id)));
    expect(items.every((i) => i.status === 'DONE')).toBe(true);
    expect(new Set(items.map((i) => i.enrichment?.summary)).size).toBe(1);
    expect(await llmCalls('marker-flight-3')).toBe(1);
    expect(items.filter((i) => i.enrichment?.cached)).toHaveLength(19);
  });

  it('a short content TTL (by override) expires', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'pro_monthly', { contentTtlSeconds: 1 });
    const body = { content: 'Short lived entry. marker-ttl-4.', tasks: ['tag'] };
    expect((await enrich(user.key, body)).enrichment?.cached).toBe(false);
    expect((await enrich(user.key, body)).enrichment?.cached).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await enrich(user.key, body)).enrichment?.cached).toBe(false);
  });

  it('cache-service down: items still complete and still hit, the cache running in the worker (its fail-open: libs/cache single-flight-cache.int)', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const body = { content: 'Cached before the service went. marker-down-5.', tasks: ['tag'] };
    expect((await enrich(user.key, body)).enrichment?.cached).toBe(false);
    await stack.services['cache-service']!.stop();
    const again = await enrich(user.key, body);
    expect(again.status).toBe('DONE');
    expect(again.enrichment?.cached).toBe(true);
    expect(await llmCalls('marker-down-5')).toBe(1);
    const fresh = await enrich(user.key, { content: 'Computed while the service is away. marker-down-6.', tasks: ['tag'] });
    expect(fresh.enrichment?.cached).toBe(false);
    expect((await enrich(user.key, { content: 'Computed while the service is away. marker-down-6.', tasks: ['tag'] })).enrichment?.cached).toBe(true);
    const metrics = await fetch(`${stack.services['enrichment-worker']!.url}/metrics`, { headers: stack.as('metrics') }).then((r) => r.text());
    expect(metrics).not.toMatch(/enrichment_cache_unavailable_total\{[^}]*\} [1-9]/);
  });
});
