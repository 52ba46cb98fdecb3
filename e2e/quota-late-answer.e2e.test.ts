import type { CreateItemResponse, ErrorBody } from '@qv/contracts';
import { createUser, http, presets, startStack, type Stack } from '@qv/testing';

/**
 * A charge quota-service answers after api-service's deadline (QUOTA_TIMEOUT_MS) may still have
 * committed. api-service asks once more under the item's own key, so the request is accepted on
 * that charge instead of a 503 that leaves it held (an orphan, until the sweep). Made slow here by
 * stopping quota-service (SIGSTOP) across the first deadline and resuming it before the second.
 */
const DEADLINE_MS = 5000;

describe('a charge answered after the deadline', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(presets.withoutPipeline, { env: { QUOTA_TIMEOUT_MS: String(DEADLINE_MS) } });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('is asked again under the same key: one item, one reservation, accepted', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const quota = stack.services['quota-service']!;
    process.kill(quota.pid, 'SIGSTOP');
    let answer: Awaited<ReturnType<typeof http<CreateItemResponse & Partial<ErrorBody>>>>;
    try {
      const posted = http<CreateItemResponse & Partial<ErrorBody>>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: 'Charged while quota-service was stopped.' } });
      // Past the first deadline, well before the second.
      await new Promise((r) => setTimeout(r, DEADLINE_MS + 1000));
      process.kill(quota.pid, 'SIGCONT');
      answer = await posted;
    } finally {
      process.kill(quota.pid, 'SIGCONT');
    }
    expect([answer.status, answer.body.error?.code]).toEqual([202, undefined]);
    const reservations = await stack.db.query<{ item_id: string; status: string }>('SELECT item_id, status FROM ai_usage_reservations WHERE user_id = $1', [user.id]);
    expect(reservations).toEqual([{ item_id: answer.body.item.id, status: 'RESERVED' }]);
    const items = await stack.db.query<{ id: string }>('SELECT id FROM items WHERE user_id = $1', [user.id]);
    expect(items.map((i) => i.id)).toEqual([answer.body.item.id]);
  }, 60_000);
});
