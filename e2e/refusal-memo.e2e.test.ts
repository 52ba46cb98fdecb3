import type { CreateItemResponse, ErrorBody } from '@qv/contracts';
import { createUser, http, presets, startStack, type Stack } from '@qv/testing';

/**
 * A user past a count limit is refused by api-service itself for QUOTA_REFUSAL_MEMO_MS (a long one
 * here, so that the test's steps fit in it) with the answer quota-service gave: the same code,
 * headers and Retry-After, without a charge. Proven by stopping quota-service (SIGSTOP): a request
 * that asked it would wait out the deadline and fail closed with 503.
 */
describe('a refusal kept for a moment', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(presets.withoutPipeline, { env: { QUOTA_REFUSAL_MEMO_MS: '60000', QUOTA_TIMEOUT_MS: '1500' } });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const post = (key: string, headers: Record<string, string> = {}, content = 'A note') =>
    http<CreateItemResponse & Partial<ErrorBody>>('POST', `${stack.api}/v1/items`, { key, headers, body: { content } });

  /** Runs `work` with quota-service stopped, resumed whatever happens. */
  const withQuotaStopped = async <T>(work: () => Promise<T>): Promise<T> => {
    const pid = stack.services['quota-service']!.pid;
    process.kill(pid, 'SIGSTOP');
    try {
      return await work();
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  };

  it('answers the exhausted user without quota-service, with the full answer, and never an accepted request', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'pro_monthly', { enrichmentsPerDay: 1 });
    const first = await post(user.key, { 'Idempotency-Key': 'first-note' });
    expect(first.status).toBe(202);
    const refused = await post(user.key);
    expect([refused.status, refused.body.error?.code]).toEqual([429, 'DAILY_QUOTA_EXCEEDED']);

    const again = await withQuotaStopped(() => post(user.key, { 'X-Request-Id': 'kept-refusal-1' }));
    expect([again.status, again.body.error?.code]).toEqual([429, 'DAILY_QUOTA_EXCEEDED']);
    expect(again.body.error?.message).toBe(refused.body.error?.message);
    for (const header of ['retry-after', 'x-ai-quota-limit', 'x-ai-quota-remaining', 'x-ai-quota-reset']) expect(again.headers.get(header)).toBe(refused.headers.get(header));
    expect(again.headers.get('x-request-id')).toBe('kept-refusal-1');
    expect(again.headers.get('cache-control')).toBe('no-store');
    expect(again.headers.get('x-content-type-options')).toBe('nosniff');

    // A retry of the accepted request is still its 202, not the refusal; a page's request (Origin) takes the full path to the same answer.
    const replay = await withQuotaStopped(() => post(user.key, { 'Idempotency-Key': 'first-note' }));
    expect([replay.status, replay.headers.get('idempotent-replayed'), replay.body.item?.id]).toEqual([202, 'true', first.body.item?.id]);
    const fromPage = await withQuotaStopped(() => post(user.key, { Origin: 'https://app.example.com' }));
    expect([fromPage.status, fromPage.body.error?.code]).toEqual([429, 'DAILY_QUOTA_EXCEEDED']);

    const [{ n }] = await stack.db.query<{ n: string }>('SELECT count(*)::text AS n FROM ai_usage_reservations WHERE user_id = $1', [user.id]);
    expect(n).toBe('1');
  }, 60_000);

  it('forgets the user when an operator raises the limit: the next request is charged', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'pro_monthly', { enrichmentsPerDay: 1 });
    expect((await post(user.key)).status).toBe(202);
    expect((await post(user.key)).body.error?.code).toBe('DAILY_QUOTA_EXCEEDED');
    const patched = await http('PATCH', `${stack.api}/admin/users/${user.id}`, { key: stack.adminKey, body: { overrides: { enrichmentsPerDay: 2 } } });
    expect(patched.status).toBe(200);
    expect((await post(user.key)).status).toBe(202);
    expect((await post(user.key)).body.error?.code).toBe('DAILY_QUOTA_EXCEEDED');
  }, 60_000);

  it('keeps no token refusal: a smaller item still passes', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'pro_monthly', { tokensPerDay: 3000 });
    const big = await post(user.key, {}, 'word '.repeat(4000));
    expect([big.status, big.body.error?.code]).toEqual([429, 'DAILY_TOKEN_QUOTA_EXCEEDED']);
    expect((await post(user.key, {}, 'short')).status).toBe(202);
  }, 60_000);

  it('is one user\'s: another user on the same plan is charged as usual', async () => {
    const exhausted = await createUser(stack.api, stack.adminKey, 'pro_monthly', { enrichmentsPerDay: 1 });
    const other = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    expect((await post(exhausted.key)).status).toBe(202);
    expect((await post(exhausted.key)).status).toBe(429);
    expect((await post(other.key)).status).toBe(202);
  }, 60_000);
});
