import type { CreateItemResponse, DlqJobResponse, DlqJobsResponse, ErrorBody, ItemStatus, QuotaStatus, ReplayResult, UsagePage } from '@qv/contracts';
import { createUser, eventually, http, presets, simulatorCalls, startStack, waitForItem, type Stack } from '@qv/testing';
import { runOps } from './support/ops-cli';

/**
 * Retries, dead letters and replays through the six services as processes (issue 5): transient
 * faults retry to DONE, permanent ones reach the dead-letter queue with their history and give the
 * user back everything the charge took, and ops replay them (charged or not) through the admin API
 * and the ops CLI.
 */
describe('pipeline: retries, dead letters, replay', () => {
  let stack: Stack;
  let sim: string;
  const run = Date.now().toString(36);

  beforeAll(async () => {
    stack = await startStack(presets.quickRetries, presets.circuitStaysClosed, { serviceEnv: { 'enrichment-worker': { QUEUE_CONCURRENCY: '8' } } });
    sim = stack.services['llm-simulator']!.url;
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const post = (key: string, content: string) => http<CreateItemResponse>('POST', `${stack.api}/v1/items`, { key, body: { content, tasks: ['summarize'] } });
  const simCalls = (marker: string) => simulatorCalls(sim, marker);
  const itemIn = (key: string, id: string, status: ItemStatus, timeoutMs = 20_000) => waitForItem(stack.api, key, id, { until: [status], timeoutMs });
  const quotaOf = async (key: string) => (await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key })).body.quotas;
  const usageOf = async (key: string) => (await http<UsagePage>('GET', `${stack.api}/v1/usage`, { key })).body.entries;
  const dlq = async () => (await http<DlqJobsResponse>('GET', `${stack.api}/admin/dlq`, { key: stack.adminKey })).body.jobs;
  const reservationOf = async (itemId: string) =>
    (await stack.db.query<{ status: string }>(`SELECT status FROM ai_usage_reservations WHERE item_id = $1 ORDER BY created_at`, [itemId])).map((r) => r.status);

  it('[sim:fail_first=2] retries to DONE with exactly 3 LLM calls', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'free');
    const marker = `flaky-${run}`;
    const created = await post(user.key, `A flaky provider answers the third time. ${marker} [sim:fail_first=2]`);
    expect(created.status).toBe(202);
    const done = await itemIn(user.key, created.body.item.id, 'DONE');
    expect(done.enrichment?.summary?.length).toBeGreaterThan(0);
    expect(await simCalls(marker)).toBe(3);
    const entries = await eventually(async () => {
      const e = await usageOf(user.key);
      return e.length === 1 ? e : undefined;
    });
    expect(entries[0]).toMatchObject({ itemId: done.id, kind: 'completed', charged: true });
    expect(await reservationOf(done.id)).toEqual(['SETTLED']);
  });

  it('[sim:status=500] ends FAILED in the DLQ with its error history; reservation released, slot and quota refunded', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'free');
    const marker = `broken-${run}`;
    const created = await post(user.key, `This provider always fails. ${marker} [sim:status=500]`);
    expect(created.status).toBe(202);
    expect(created.body.quota.quotas.enrichmentsPerDay.used).toBe(1);
    const id = created.body.item.id;
    const failed = await itemIn(user.key, id, 'FAILED');
    expect(failed.enrichment ?? null).toBeNull();

    const entry = await eventually(async () => (await dlq()).find((j) => j.jobId === id));
    expect(entry).toMatchObject({ jobId: id, itemId: id, userId: user.id, attemptsMade: 5 });
    expect(entry.failedReason).toMatch(/500/);
    expect(entry.errors).toHaveLength(5);
    for (const line of entry.errors!) expect(line).toMatch(/500/);
    expect(await simCalls(marker)).toBe(5);

    await eventually(async () => (await reservationOf(id))[0] === 'RELEASED');
    const quotas = await quotaOf(user.key);
    expect(quotas.enrichmentsPerDay.used).toBe(0);
    expect(quotas.concurrentJobs.used).toBe(0);
    expect(quotas.tokensPerDay.used).toBe(0);
    expect(quotas.callsPerHour.used).toBe(0);
    const entries = await usageOf(user.key);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ itemId: id, kind: 'failed', promptTokens: 0, completionTokens: 0 });

    const shown = await http<DlqJobResponse>('GET', `${stack.api}/admin/dlq/${id}`, { key: stack.adminKey });
    expect(shown.status).toBe(200);
    expect(shown.body.job).toMatchObject({ jobId: id, attemptsMade: 5 });
  });

  it('a non-retryable 4xx fails at once: one call, one attempt', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'free');
    const marker = `bad-request-${run}`;
    const created = await post(user.key, `The provider refuses this request. ${marker} [sim:status=400]`);
    const id = created.body.item.id;
    await itemIn(user.key, id, 'FAILED');
    const entry = await eventually(async () => (await dlq()).find((j) => j.jobId === id));
    expect(entry.attemptsMade).toBe(1);
    expect(entry.failedReason).toMatch(/client/);
    expect(await simCalls(marker)).toBe(1);
    await eventually(async () => (await reservationOf(id))[0] === 'RELEASED');
    expect((await quotaOf(user.key)).enrichmentsPerDay.used).toBe(0);
  });

  it('replays dead jobs whose prompt now succeeds: uncharged by default, charged when asked, and through the ops CLI', async () => {
    // Every call fails until T; five quick attempts die well before it.
    const until = Date.now() + 4000;
    const users = await Promise.all([0, 1, 2].map(() => createUser(stack.api, stack.adminKey, 'free')));
    const [free, charged, cli] = users;
    const ids: string[] = [];
    for (const [i, user] of users.entries()) {
      const created = await post(user.key, `An outage that ends. replay-${i}-${run} [sim:fail_until=${until}]`);
      expect(created.status).toBe(202);
      ids.push(created.body.item.id);
    }
    for (const [i, user] of users.entries()) await itemIn(user.key, ids[i], 'FAILED');
    await eventually(async () => {
      const jobs = await dlq();
      return ids.every((id) => jobs.some((j) => j.jobId === id));
    });
    for (const user of users) await eventually(async () => (await quotaOf(user.key)).enrichmentsPerDay.used === 0);
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now() + 100)));

    // Default replay: DONE, nothing charged, the tokens in the ledger marked uncharged.
    const replay = await http<ReplayResult>('POST', `${stack.api}/admin/dlq/${ids[0]}/replay`, { key: stack.adminKey, body: {} });
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ jobId: ids[0], charged: false });
    expect(replay.body.newJobId).not.toBe(ids[0]);
    // The replay went through the outbox like any job, so a Redis that loses it cannot lose it.
    const rows = await stack.db.query<{ job_id: string; sent: boolean }>(`SELECT job_id, sent_at IS NOT NULL AS sent FROM outbox WHERE item_id = $1 ORDER BY created_at`, [ids[0]]);
    expect(rows).toEqual([{ job_id: ids[0], sent: true }, { job_id: replay.body.newJobId, sent: true }]);
    const doneFree = await itemIn(free.key, ids[0], 'DONE');
    const freeEntries = await eventually(async () => {
      const e = await usageOf(free.key);
      return e.length === 2 ? e : undefined;
    });
    expect(freeEntries.find((e) => e.kind === 'completed')).toMatchObject({ charged: false, promptTokens: doneFree.enrichment?.promptTokens, completionTokens: doneFree.enrichment?.completionTokens });
    const freeQuota = await quotaOf(free.key);
    expect(freeQuota.enrichmentsPerDay.used).toBe(0);
    expect(freeQuota.tokensPerDay.used).toBe(0);
    expect(freeQuota.concurrentJobs.used).toBe(0);
    expect((await dlq()).some((j) => j.jobId === ids[0])).toBe(false);

    // Replay with chargeUser: a fresh charge, settled to the actual tokens.
    const paid = await http<ReplayResult>('POST', `${stack.api}/admin/dlq/${ids[1]}/replay`, { key: stack.adminKey, body: { chargeUser: true } });
    expect(paid.status).toBe(202);
    expect(paid.body).toMatchObject({ jobId: ids[1], charged: true });
    const doneCharged = await itemIn(charged.key, ids[1], 'DONE');
    const chargedEntries = await eventually(async () => {
      const e = await usageOf(charged.key);
      return e.length === 2 ? e : undefined;
    });
    expect(chargedEntries.find((e) => e.kind === 'completed')).toMatchObject({ charged: true });
    const tokens = doneCharged.enrichment!.promptTokens + doneCharged.enrichment!.completionTokens;
    const chargedQuota = await eventually(async () => {
      const q = await quotaOf(charged.key);
      return q.tokensPerDay.used === tokens ? q : undefined;
    });
    expect(chargedQuota.enrichmentsPerDay.used).toBe(1);
    expect(chargedQuota.concurrentJobs.used).toBe(0);
    expect(await reservationOf(ids[1])).toEqual(['RELEASED', 'SETTLED']);

    // The operator's CLI lists the dead job and replays it.
    const list = await ops(['dlq', 'list', '--user', cli.id]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(ids[2]);
    expect(list.stdout).toContain('attempts=5');
    const replayed = await ops(['dlq', 'replay', ids[2]]);
    expect(replayed.code).toBe(0);
    expect(JSON.parse(replayed.stdout)).toMatchObject({ jobId: ids[2], charged: false });
    await itemIn(cli.key, ids[2], 'DONE');
    const after = await ops(['dlq', 'list', '--user', cli.id]);
    expect(after.stdout).toContain('No dead letter matches.');
    const missing = await ops(['dlq', 'replay', ids[2]]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('404 NOT_FOUND');
  });

  it('refuses to replay a dead letter whose item is no longer FAILED (already replayed): 409, nothing charged', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'free');
    const created = await post(user.key, `Dies for good. twice-${run} [sim:status=500]`);
    const id = created.body.item.id;
    await itemIn(user.key, id, 'FAILED');
    await eventually(async () => (await dlq()).some((j) => j.jobId === id));
    // As if an earlier replay were running while its dead letter stayed behind (Redis down at the time).
    await stack.db.query(`UPDATE items SET status = 'PENDING' WHERE id = $1`, [id]);
    const refused = await http<ErrorBody>('POST', `${stack.api}/admin/dlq/${id}/replay`, { key: stack.adminKey, body: { chargeUser: true } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('CONFLICT');
    expect(await reservationOf(id)).toEqual(['RELEASED']);
    expect((await dlq()).some((j) => j.jobId === id)).toBe(true);
  });

  const ops = (args: string[]) => runOps(stack, args);
});
