import type { CreateItemResponse, DlqJobsResponse, QuotaStatus } from '@qv/contracts';
import { createUser, eventually, http, startService, startStack, type ServiceProcess, type Stack } from '@qv/testing';

/**
 * Worker processes as a fleet (issue 5): two share the load; a worker killed with SIGKILL in the
 * middle of 50 slow jobs loses none and doubles none (its jobs stall, another worker takes them,
 * the idempotent handler and the ledger's event ids keep each item to one entry); and a job that
 * stalls past BullMQ's stall limit still reaches the dead-letter queue with its reservation released.
 */
describe('pipeline: worker processes', () => {
  let stack: Stack;
  const workers: ServiceProcess[] = [];
  const run = Date.now().toString(36);

  beforeAll(async () => {
    // The workers are started by each test, with its own settings.
    stack = await startStack({ skip: ['enrichment-worker'] });
  }, 90_000);
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await stack?.stop();
  });

  /**
   * Short locks and stall checks, so a killed worker's jobs are taken over within seconds; a short
   * cache wait, since the dead worker's single-flight leases hold the next worker back that long.
   */
  const startWorker = async (env: Record<string, string> = {}) => {
    const worker = await startService('enrichment-worker', {
      ...stack.envFor('enrichment-worker'),
      QUEUE_CONCURRENCY: '10',
      QUEUE_LOCK_MS: '2000',
      QUEUE_STALL_CHECK_INTERVAL_MS: '1000',
      CACHE_WAIT_MS: '1000',
      ...env,
    });
    workers.push(worker);
    return worker;
  };
  const proUser = () => createUser(stack.api, stack.adminKey, 'pro_monthly', { concurrentJobs: 100 });
  const postMany = async (key: string, contents: string[]): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < contents.length; i += 10) {
      const batch = await Promise.all(contents.slice(i, i + 10).map((content) => http<CreateItemResponse>('POST', `${stack.api}/v1/items`, { key, body: { content, tasks: ['summarize'] } })));
      for (const res of batch) {
        expect(res.status).toBe(202);
        ids.push(res.body.item.id);
      }
    }
    return ids;
  };
  const statusCounts = async (ids: string[]) => {
    const rows = await stack.db.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM items WHERE id = ANY($1) GROUP BY 1`, [ids]);
    return Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>;
  };
  const llmCalls = async (worker: ServiceProcess) => {
    const text = (await http<string>('GET', `${worker.url}/metrics`, { headers: stack.as('metrics') })).body;
    return [...text.matchAll(/^llm_calls_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  };

  it('two worker processes share the load', async () => {
    const [a, b] = await Promise.all([startWorker(), startWorker()]);
    const user = await proUser();
    const ids = await postMany(user.key, Array.from({ length: 30 }, (_, i) => `Shared load item ${i} of ${run}. [sim:latency_ms=200]`));
    await eventually(async () => (await statusCounts(ids)).DONE === 30, 30_000);
    const [callsA, callsB] = await Promise.all([llmCalls(a), llmCalls(b)]);
    expect(callsA + callsB).toBe(30);
    expect(callsA).toBeGreaterThan(0);
    expect(callsB).toBeGreaterThan(0);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('kill -9 of a worker during 50 slow jobs: another finishes them, each exactly once in the ledger', async () => {
    const first = await startWorker();
    const user = await proUser();
    const ids = await postMany(user.key, Array.from({ length: 50 }, (_, i) => `Crash-safe item ${i} of ${run}. [sim:latency_ms=600]`));
    // Kill it with jobs in flight and jobs still waiting: seen in flight just before the kill. (The
    // jobs of one batch end together, so right after DONE moves there can be none in flight for a
    // few ms until the next are claimed; a kill then would interrupt nothing.)
    const beforeKill = await eventually(async () => {
      const counts = await statusCounts(ids);
      return (counts.DONE ?? 0) >= 5 && (counts.ENRICHING ?? 0) > 0 ? counts : undefined;
    }, 20_000, 20);
    await first.kill();
    expect(beforeKill.DONE ?? 0).toBeLessThan(50);
    expect((await statusCounts(ids)).DONE ?? 0).toBeLessThan(50);

    await startWorker();
    await eventually(async () => (await statusCounts(ids)).DONE === 50, 40_000);
    const ledger = await eventually(async () => {
      const rows = await stack.db.query<{ item_id: string; n: number }>(`SELECT item_id, count(*)::int AS n FROM ai_usage_ledger WHERE item_id = ANY($1) GROUP BY 1`, [ids]);
      return rows.length === 50 ? rows : undefined;
    });
    expect(ledger.every((r) => r.n === 1)).toBe(true);
    const [totals] = await stack.db.query<{ rows: number; charged: number; settled: number }>(
      `SELECT (SELECT count(*)::int FROM ai_usage_ledger WHERE user_id = $1) AS rows,
              (SELECT count(*)::int FROM ai_usage_ledger WHERE user_id = $1 AND charged AND kind = 'completed') AS charged,
              (SELECT count(*)::int FROM ai_usage_reservations WHERE user_id = $1 AND status = 'SETTLED') AS settled`,
      [user.id],
    );
    expect(totals).toEqual({ rows: 50, charged: 50, settled: 50 });
    const quota = (await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key: user.key })).body.quotas;
    expect(quota.enrichmentsPerDay.used).toBe(50);
    expect(quota.concurrentJobs.used).toBe(0);
    for (const w of workers) await w.stop();
  }, 60_000);

  it('a job that stalls past the stall limit reaches the dead-letter queue and its reservation is released', async () => {
    const env = { QUEUE_MAX_STALLS: '0' };
    const first = await startWorker(env);
    const user = await proUser();
    const [id] = await postMany(user.key, [`A job whose worker dies. stall-${run} [sim:latency_ms=8000]`]);
    await eventually(async () => (await statusCounts([id])).ENRICHING === 1, 10_000, 20);
    await first.kill();
    await startWorker(env);

    const entry = await eventually(async () => {
      const jobs = (await http<DlqJobsResponse>('GET', `${stack.api}/admin/dlq`, { key: stack.adminKey })).body.jobs;
      return jobs.find((j) => j.jobId === id);
    }, 15_000);
    expect(entry.failedReason).toMatch(/stalled/);
    expect(entry.userId).toBe(user.id);
    expect((await statusCounts([id])).FAILED).toBe(1);
    await eventually(async () => {
      const [r] = await stack.db.query<{ status: string }>(`SELECT status FROM ai_usage_reservations WHERE item_id = $1`, [id]);
      return r?.status === 'RELEASED';
    });
    const quota = (await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key: user.key })).body.quotas;
    expect(quota.concurrentJobs.used).toBe(0);
    expect(quota.enrichmentsPerDay.used).toBe(0);
  });
});
