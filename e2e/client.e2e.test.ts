import { QuotaExceededError, QuotaVaultClient, ValidationError, NotFoundError, AuthenticationError, ForbiddenError, IdempotencyKeyReusedError } from '@qv/client';
import { startStack, type Stack } from '@qv/testing';

/** @qv/client against the real stack (issue 16): typed calls, quota snapshots, errors, retries. */
describe('@qv/client against the stack', () => {
  let stack: Stack;
  let admin: QuotaVaultClient;
  beforeAll(async () => {
    stack = await startStack();
    admin = new QuotaVaultClient({ baseUrl: stack.api, apiKey: stack.adminKey });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const userClient = async (plan: string, overrides?: Record<string, number | null>, options: Partial<ConstructorParameters<typeof QuotaVaultClient>[0]> = {}) => {
    const { user, apiKey } = await admin.admin.createUser({ plan, ...(overrides ? { overrides } : {}) });
    return { user, client: new QuotaVaultClient({ baseUrl: stack.api, apiKey, ...options }) };
  };
  const count = async (sql: string, params: unknown[]) => Number((await stack.db.query<{ n: string }>(sql, params))[0].n);

  it('creates an item (202) whose quota snapshot matches GET /v1/quota, and follows it to DONE', async () => {
    const seen: unknown[] = [];
    const { client } = await userClient('free', undefined, { onQuota: (q) => seen.push(q) });
    const created = await client.createItem({ content: 'The client reads every quota header after each call.', tasks: ['summarize', 'tag'] });
    expect(created.item.status).toBe('PENDING');
    expect(created.replayed).toBe(false);
    expect(created.snapshot).toMatchObject({ limit: 50, remaining: 49, used: 1, concurrencyLimit: 3 });
    expect(client.lastQuota).toEqual(created.snapshot);
    expect(seen).toHaveLength(1);
    expect(created.quota.quotas.enrichmentsPerDay).toMatchObject({ used: 1, limit: 50, remaining: 49 });

    const done = await client.waitForItem(created.item.id);
    expect(done.status).toBe('DONE');
    expect(done.enrichment?.summary?.length).toBeGreaterThan(0);

    const quota = await client.getQuota();
    const day = quota.quotas.enrichmentsPerDay;
    expect({ limit: created.snapshot!.limit, remaining: created.snapshot!.remaining, resetAt: created.snapshot!.resetAt?.getTime() }).toEqual({
      limit: day.limit,
      remaining: day.remaining,
      resetAt: Math.ceil(Date.parse(day.resetAt!) / 1000) * 1000,
    });
    // GET /v1/quota's own headers land in lastQuota too, and agree with its body.
    expect(client.lastQuota).toMatchObject({
      limit: day.limit,
      remaining: day.remaining,
      tokensLimit: quota.quotas.tokensPerDay.limit,
      tokensRemaining: quota.quotas.tokensPerDay.remaining,
      concurrencyLimit: quota.quotas.concurrentJobs.limit,
      concurrencyRemaining: quota.quotas.concurrentJobs.remaining,
    });
    expect(seen).toHaveLength(2);

    const page = await client.listItems({ limit: 10 });
    expect(page.items.map((i) => i.id)).toEqual([created.item.id]);
  }, 60_000);

  it('surfaces an exhausted daily limit as QuotaExceededError with the code, Retry-After and the quota status', async () => {
    const { user, client } = await userClient('free', { enrichmentsPerDay: 1 });
    expect(user.overrides).toEqual({ enrichmentsPerDay: 1 });
    await client.createItem({ content: 'the one allowed today', tasks: ['tag'] });
    const err = (await client.createItem({ content: 'one too many', tasks: ['tag'] }).catch((e) => e)) as QuotaExceededError;
    expect(err).toBeInstanceOf(QuotaExceededError);
    expect(err.code).toBe('DAILY_QUOTA_EXCEEDED');
    expect(err.status).toBe(429);
    expect(err.userMessage).toBe("You've reached your daily limit.");
    const now = new Date();
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    expect(Math.abs(err.retryAfterSeconds - Math.ceil((midnight - Date.now()) / 1000))).toBeLessThanOrEqual(2);
    expect(err.quotaStatus?.quotas.enrichmentsPerDay).toMatchObject({ used: 1, limit: 1, remaining: 0, level: 'exceeded' });
    expect(err.quota).toMatchObject({ limit: 1, remaining: 0, used: 1 });
    expect(client.lastQuota).toEqual(err.quota);
    expect(err.requestId).toBeTruthy();
    expect(await count('SELECT count(*)::text AS n FROM items WHERE user_id = $1', [user.id])).toBe(1);
  }, 60_000);

  it('retries a create whose answer was lost under the same Idempotency-Key: charged once, one item', async () => {
    let calls = 0;
    const keys: string[] = [];
    const flaky = async (url: string, init: RequestInit) => {
      calls++;
      keys.push((init.headers as Record<string, string>)['Idempotency-Key']);
      const res = await fetch(url, init);
      if (calls === 1) {
        await res.text();
        throw new TypeError('fetch failed: the connection reset before the answer arrived');
      }
      return res;
    };
    const { user, client } = await userClient('free', undefined, { fetch: flaky, retry: { baseDelayMs: 50 } });
    const created = await client.createItem({ content: 'charged exactly once', tasks: ['tag'] });
    expect(calls).toBe(2);
    expect(new Set(keys).size).toBe(1);
    expect(created.idempotencyKey).toBe(keys[0]);
    expect(created.replayed).toBe(true); // the server answered the retry from the first attempt
    expect(created.snapshot).toMatchObject({ remaining: 49, used: 1 });
    const quota = await client.getQuota();
    expect(quota.quotas.enrichmentsPerDay.used).toBe(1);
    expect(await count('SELECT count(*)::text AS n FROM items WHERE user_id = $1', [user.id])).toBe(1);
    expect(await count('SELECT count(*)::text AS n FROM ai_usage_reservations WHERE user_id = $1', [user.id])).toBe(1);
  }, 60_000);

  it('maps the other error answers to their classes', async () => {
    const { user, client } = await userClient('free');
    await expect(client.createItem({ content: '' })).rejects.toBeInstanceOf(ValidationError);
    await expect(client.getItem('itm_does_not_exist')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.admin.listPlans()).rejects.toBeInstanceOf(ForbiddenError);
    await expect(new QuotaVaultClient({ baseUrl: stack.api, apiKey: 'qv_not_a_key' }).getQuota()).rejects.toBeInstanceOf(AuthenticationError);
    await client.createItem({ content: 'first body' }, { idempotencyKey: 'client-e2e-key' });
    await expect(client.createItem({ content: 'another body' }, { idempotencyKey: 'client-e2e-key' })).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    const plans = await admin.admin.listPlans();
    expect(plans.map((p) => p.id)).toContain('free');
    expect((await admin.admin.getUser(user.id)).plan).toBe('free');
  }, 60_000);
});
