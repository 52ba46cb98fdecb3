import type { CreateItemResponse, ErrorBody, PlanResponse, PlansResponse, QuotaStatus, UserResponse } from '@qv/contracts';
import { createUser, eventually, http, startStack, waitForItem, type Stack } from '@qv/testing';
import { runOps } from './support/ops-cli';

/** The quota engine as a frontend meets it through api-service (issue 4). */
describe('quota through the public API', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ serviceEnv: { 'enrichment-worker': { QUEUE_CONCURRENCY: '16' } } });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  /** POST /v1/items; `T` is the answer the call expects (a refusal: ErrorBody). */
  const post = <T = CreateItemResponse>(key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) => http<T>('POST', `${stack.api}/v1/items`, { key, body, headers });
  const waitDone = (key: string, id: string) => waitForItem(stack.api, key, id, { intervalMs: 50 });
  const count = async (sql: string, params: unknown[] = []) => Number((await stack.db.query<{ n: string }>(sql, params))[0].n);

  it('free plan: 50 items succeed, the 51st is 429 DAILY_QUOTA_EXCEEDED with headers and Retry-After', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'free');
    for (let i = 0; i < 50; i++) {
      const res = await post(user.key, { content: `note ${i} about budgets`, tasks: ['tag'] });
      expect(res.status).toBe(202);
      expect(res.headers.get('x-ai-quota-remaining')).toBe(String(49 - i));
      await waitDone(user.key, res.body.item.id); // free plan: 3 in flight at most, so let each finish
    }
    const refused = await post<ErrorBody>(user.key, { content: 'one too many', tasks: ['tag'] });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('DAILY_QUOTA_EXCEEDED');
    const now = new Date();
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Math.abs(retryAfter - Math.ceil((midnight - Date.now()) / 1000))).toBeLessThanOrEqual(2);
    expect(refused.body.error.retryAfterSeconds).toBe(retryAfter);
    expect(refused.headers.get('x-ai-quota-limit')).toBe('50');
    expect(refused.headers.get('x-ai-quota-remaining')).toBe('0');
    expect(Number(refused.headers.get('x-ai-quota-reset'))).toBe(midnight / 1000);
    expect(await count('SELECT count(*)::text AS n FROM items WHERE user_id = $1', [user.id])).toBe(50);
    expect(await count(`SELECT count(*)::text AS n FROM ai_usage_reservations WHERE user_id = $1`, [user.id])).toBe(50);

    const quota = await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key: user.key });
    expect(quota.status).toBe(200);
    expect(quota.body.plan).toBe('free');
    expect(quota.body.quotas.enrichmentsPerDay).toMatchObject({ used: 50, limit: 50, remaining: 0, level: 'exceeded' });
    expect(quota.body.level).toBe('exceeded');
    expect(quota.headers.get('x-ai-quota-remaining')).toBe('0');
    expect(quota.headers.get('x-ai-quota-concurrency-limit')).toBe('3');
  }, 120_000);

  it('free plan: 3 items in flight on a slow LLM, the 4th is 429 CONCURRENCY_LIMIT_EXCEEDED; after they finish a 5th passes', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'free');
    const slow = await Promise.all([0, 1, 2].map((i) => post(user.key, { content: `slow ${i} [sim:latency_ms=2500]`, tasks: ['tag'] })));
    expect(slow.map((r) => r.status)).toEqual([202, 202, 202]);
    // Sent together, so charged in any order: one of them saw each of the three slots go.
    expect(slow.map((r) => r.headers.get('x-ai-quota-concurrency-remaining')).sort()).toEqual(['0', '1', '2']);
    const fourth = await post<ErrorBody>(user.key, { content: 'fourth', tasks: ['tag'] });
    expect(fourth.status).toBe(429);
    expect(fourth.body.error.code).toBe('CONCURRENCY_LIMIT_EXCEEDED');
    expect(Number(fourth.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(fourth.headers.get('x-ai-quota-concurrency-remaining')).toBe('0');
    for (const r of slow) expect((await waitDone(user.key, r.body.item.id)).status).toBe('DONE');
    await eventually(async () => (await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key: user.key })).body.quotas.concurrentJobs.used === 0);
    const fifth = await post(user.key, { content: 'fifth', tasks: ['tag'] });
    expect(fifth.status).toBe(202);
  }, 60_000);

  it('Idempotency-Key: a replay charges nothing; another body is 422; a refused request does not use its key up', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'payg');
    const body = { content: 'idempotent content', tasks: ['tag'] };
    const first = await post(user.key, body, { 'idempotency-key': 'key-1' });
    expect(first.status).toBe(202);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await post(user.key, { tasks: ['tag'], content: 'idempotent content' }, { 'idempotency-key': 'key-1' });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('x-ai-quota-remaining')).toBe(first.headers.get('x-ai-quota-remaining'));
    const other = await post<ErrorBody>(user.key, { content: 'another body', tasks: ['tag'] }, { 'idempotency-key': 'key-1' });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await count('SELECT count(*)::text AS n FROM ai_usage_reservations WHERE user_id = $1', [user.id])).toBe(1);
    expect(await count('SELECT count(*)::text AS n FROM items WHERE user_id = $1', [user.id])).toBe(1);

    // Keys are per user: another user may use the same key for their own request.
    const stranger = await createUser(stack.api, stack.adminKey, 'payg');
    expect((await post(stranger.key, body, { 'idempotency-key': 'key-1' })).status).toBe(202);

    // A refused request leaves its key unused: once the limit allows, the same key goes through.
    await http('PATCH', `${stack.api}/admin/users/${user.id}`, { key: stack.adminKey, body: { overrides: { enrichmentsPerDay: 1 } } });
    const refused = await post(user.key, { content: 'later', tasks: ['tag'] }, { 'idempotency-key': 'key-2' });
    expect(refused.status).toBe(429);
    await http('PATCH', `${stack.api}/admin/users/${user.id}`, { key: stack.adminKey, body: { overrides: {} } });
    const accepted = await post(user.key, { content: 'later', tasks: ['tag'] }, { 'idempotency-key': 'key-2' });
    expect(accepted.status).toBe(202);
    expect(accepted.headers.get('idempotent-replayed')).toBeNull();
  });

  it('20 concurrent copies of one key: one item, one charge, every other answer a replay or a 409', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const body = { content: 'raced content [sim:latency_ms=50]', tasks: ['summarize'] };
    // Each a 202 (an item) or a 409 (an error), told apart by status.
    const answers = await Promise.all(Array.from({ length: 20 }, () => post<Partial<CreateItemResponse & ErrorBody>>(user.key, body, { 'idempotency-key': 'race' })));
    const fresh = answers.filter((a) => a.status === 202 && a.headers.get('idempotent-replayed') === null);
    const replays = answers.filter((a) => a.status === 202 && a.headers.get('idempotent-replayed') === 'true');
    const inUse = answers.filter((a) => a.status === 409);
    expect(fresh).toHaveLength(1);
    expect(replays.length + inUse.length).toBe(19);
    for (const r of replays) expect(r.body.item?.id).toBe(fresh[0].body.item?.id);
    for (const r of inUse) expect(r.body.error?.code).toBe('IDEMPOTENCY_KEY_IN_USE');
    expect(await count('SELECT count(*)::text AS n FROM items WHERE user_id = $1', [user.id])).toBe(1);
    expect(await count('SELECT count(*)::text AS n FROM ai_usage_reservations WHERE user_id = $1', [user.id])).toBe(1);
  });

  it('admin: plans are readable and editable; overrides replace a limit', async () => {
    const plans = await http<PlansResponse>('GET', `${stack.api}/admin/plans`, { key: stack.adminKey });
    expect(plans.body.plans.map((p) => p.id)).toEqual(['enterprise', 'free', 'payg', 'pro_annual', 'pro_monthly']);
    expect(plans.body.plans.find((p) => p.id === 'free')).toMatchObject({ enrichmentsPerDay: 50, concurrentJobs: 3, callsPerHour: 100, tokensPerDay: 10000, tokensPerMonth: 100000, sessionTtlSeconds: null });
    const bad = await http('PUT', `${stack.api}/admin/plans/payg`, { key: stack.adminKey, body: { concurrentJobs: -1 } });
    expect(bad.status).toBe(400);
    const edited = await http<PlanResponse>('PUT', `${stack.api}/admin/plans/payg`, { key: stack.adminKey, body: { concurrentJobs: 7 } });
    expect(edited.body.plan.concurrentJobs).toBe(7);
    const user = await createUser(stack.api, stack.adminKey, 'payg', { tokensPerDay: null });
    const quota = await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key: user.key });
    expect(quota.body.quotas.concurrentJobs.limit).toBe(7);
    expect(quota.body.quotas.tokensPerDay.limit).toBeNull();
    expect(quota.headers.get('x-ai-quota-tokens-limit')).toBe('-1');
    expect((await http('POST', `${stack.api}/admin/users`, { key: stack.adminKey, body: { plan: 'gold' } })).status).toBe(400);
    expect((await http('PATCH', `${stack.api}/admin/users/usr_nobody`, { key: stack.adminKey, body: { plan: 'free' } })).status).toBe(404);
  });

  it('admin: mergeOverrides sets the limits it names and keeps the others; concurrent merges of different limits all land', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'payg', { tokensPerMonth: 123_456 });
    const limits = { enrichmentsPerDay: 11, concurrentJobs: 12, callsPerHour: 13, tokensPerDay: null, sessionTtlSeconds: 15, contentTtlSeconds: 16 };
    // One request per limit, all at once: read-then-write from each would keep only some of them.
    const answers = await Promise.all(Object.entries(limits).map(([name, value]) => http('PATCH', `${stack.api}/admin/users/${user.id}`, { key: stack.adminKey, body: { mergeOverrides: { [name]: value } } })));
    expect(answers.map((a) => a.status)).toEqual(Object.keys(limits).map(() => 200));
    const { user: merged } = (await http<UserResponse>('GET', `${stack.api}/admin/users/${user.id}`, { key: stack.adminKey })).body;
    expect(merged.overrides).toEqual({ tokensPerMonth: 123_456, ...limits });
    const quota = await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key: user.key });
    expect(quota.body.quotas.concurrentJobs.limit).toBe(12);
    const both = await http('PATCH', `${stack.api}/admin/users/${user.id}`, { key: stack.adminKey, body: { overrides: {}, mergeOverrides: { callsPerHour: 1 } } });
    expect(both.status).toBe(400);

    // `ops user override` merges the same way: the limit it names changes, the others stay.
    const cli = await runOps(stack, ['user', 'override', user.id, 'callsPerHour=99', 'tokensPerDay=5000']);
    expect(cli.code).toBe(0);
    const { user: afterCli } = (await http<UserResponse>('GET', `${stack.api}/admin/users/${user.id}`, { key: stack.adminKey })).body;
    expect(afterCli.overrides).toEqual({ tokensPerMonth: 123_456, ...limits, callsPerHour: 99, tokensPerDay: 5000 });

    // removeOverrides takes the named ones away (the plan's limits again) beside a merge, atomically; `=plan` in the CLI.
    const removed = await http<UserResponse>('PATCH', `${stack.api}/admin/users/${user.id}`, { key: stack.adminKey, body: { mergeOverrides: { concurrentJobs: 3 }, removeOverrides: ['callsPerHour', 'tokensPerMonth'] } });
    expect(removed.status).toBe(200);
    const { callsPerHour: _removed, ...kept } = limits;
    expect(removed.body.user.overrides).toEqual({ ...kept, concurrentJobs: 3, tokensPerDay: 5000 });
    const planQuota = await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key: user.key });
    const payg = (await http<PlansResponse>('GET', `${stack.api}/admin/plans`, { key: stack.adminKey })).body.plans.find((p) => p.id === 'payg')!;
    expect([planQuota.body.quotas.callsPerHour.limit, planQuota.body.quotas.tokensPerMonth.limit, planQuota.body.quotas.concurrentJobs.limit]).toEqual([payg.callsPerHour, payg.tokensPerMonth, 3]);
    expect((await runOps(stack, ['user', 'override', user.id, 'tokensPerDay=plan'])).code).toBe(0);
    const { user: afterRemove } = (await http<UserResponse>('GET', `${stack.api}/admin/users/${user.id}`, { key: stack.adminKey })).body;
    const { tokensPerDay: _alsoRemoved, ...rest } = kept;
    expect(afterRemove.overrides).toEqual({ ...rest, concurrentJobs: 3 });
    for (const body of [{ mergeOverrides: { callsPerHour: 1 }, removeOverrides: ['callsPerHour'] }, { overrides: {}, removeOverrides: ['callsPerHour'] }, { removeOverrides: ['colour'] }]) {
      expect((await http('PATCH', `${stack.api}/admin/users/${user.id}`, { key: stack.adminKey, body })).status).toBe(400);
    }
  });

  it('quota-service down: 503 QUOTA_SERVICE_UNAVAILABLE, nothing stored, nothing enqueued', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    await stack.services['quota-service']!.stop();
    const res = await post<ErrorBody>(user.key, { content: 'no charge, no work' }, { 'idempotency-key': 'while-down' });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('QUOTA_SERVICE_UNAVAILABLE');
    expect(await count('SELECT count(*)::text AS n FROM items WHERE user_id = $1', [user.id])).toBe(0);
    expect(await count('SELECT count(*)::text AS n FROM outbox o JOIN items i ON i.id = o.item_id WHERE i.user_id = $1', [user.id])).toBe(0);
    expect(await count('SELECT count(*)::text AS n FROM idempotency_keys WHERE user_id = $1', [user.id])).toBe(0);
    const ready = await http<{ checks: Record<string, string> }>('GET', `${stack.api}/readyz`);
    expect(ready.status).toBe(503);
    // Named, its reason left to the log: the driver's message would tell anyone the internal address.
    expect(ready.body.checks['quota-service']).toBe('down');
    expect(JSON.stringify(ready.body)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|fetch failed/);
  });
});
