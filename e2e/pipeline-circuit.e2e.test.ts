import type { CreateItemResponse, DlqJobsResponse } from '@qv/contracts';
import { createUser, http, presets, simulatorCalls, startStack, waitForItem, type Stack } from '@qv/testing';

/**
 * A provider outage with the circuit open holds the queue instead of burning attempts: jobs wait
 * for the breaker to half-open and finish once the provider is back, none dead-lettered.
 */
describe('pipeline: circuit breaker', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(presets.quickRetries, {
      serviceEnv: { 'enrichment-worker': { BREAKER_THRESHOLD: '2', BREAKER_HALF_OPEN_MS: '1000', QUEUE_CONCURRENCY: '4' } },
    });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('an outage longer than all attempts with backoff ends DONE, not in the dead-letter queue', async () => {
    // An outage is every call failing, whoever it is for: three items of three users (one user's
    // failures alone never open the circuit, e2e/pipeline-poison).
    const users = await Promise.all([0, 1, 2].map(() => createUser(stack.api, stack.adminKey, 'pro_monthly')));
    // Five attempts at 50 ms base backoff take well under a second; the outage lasts 4 s.
    const until = Date.now() + 4000;
    const ids: string[] = [];
    for (const [i, user] of users.entries()) {
      const res = await http<CreateItemResponse>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: `outage ${i} [sim:fail_until=${until}]`, tasks: ['tag'] } });
      expect(res.status).toBe(202);
      ids.push(res.body.item.id);
    }
    const items = await Promise.all(ids.map((id, i) => waitForItem(stack.api, users[i].key, id)));
    expect(items.map((i) => i.status)).toEqual(['DONE', 'DONE', 'DONE']);
    expect(Date.now()).toBeGreaterThanOrEqual(until);
    const dlq = await http<DlqJobsResponse>('GET', `${stack.api}/admin/dlq`, { key: stack.adminKey });
    expect(dlq.body.jobs).toEqual([]);
    // Fail fast: while open, the breaker spared the provider most calls (far fewer than 3 jobs × 5 attempts × retries).
    const calls = await simulatorCalls(stack.services['llm-simulator']!.url, 'outage');
    expect(calls).toBeLessThan(15);
  }, 60_000);
});
