import { readFileSync } from 'node:fs';
import type { CreateItemResponse, DlqJobsResponse, QuotaStatus, ReconciliationResponse, ReplayResult, UsagePage, UsageReportResponse } from '@qv/contracts';
import { createUser, eventually, http, presets, startStack, type HttpResult, type Stack } from '@qv/testing';
import { runOps } from './support/ops-cli';

/**
 * The ledger through the six services as processes (issue 7): 200 mixed items — misses, cache hits,
 * retries, dead letters, replays of dead letters charged and not — and afterwards every user's
 * counters, reservations and ledger agree to the token (drift 0 in GET /admin/reconciliation, the
 * ops CLI exits 0), and the periodic reconciliation saw no drift at any moment on the way. Then a
 * corrupted counter: the exact drift in the API, the CLI exits 1, the gauge shows it.
 */
describe('ledger: 200 mixed items reconcile to zero drift', () => {
  let stack: Stack;
  const run = Date.now().toString(36);
  const today = new Date().toISOString().slice(0, 10);

  beforeAll(async () => {
    stack = await startStack(presets.circuitStaysClosed, {
      // Small pools: PostgreSQL's 100 connections are shared with every other suite running at the same time.
      env: { DB_POOL_SIZE: '5' },
      serviceEnv: {
        // Retries in tens of ms (the catalog's 5 attempts stay).
        'enrichment-worker': { RETRY_BASE_DELAY_MS: '20', QUEUE_CONCURRENCY: '16' },
        'ledger-consumer': { RECONCILE_INTERVAL_MS: '250' },
      },
    });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  // Limits out of reach, so every POST is accepted and the numbers are about the ledger alone.
  const OPEN = { concurrentJobs: 500, callsPerHour: null, enrichmentsPerDay: null, tokensPerDay: null, tokensPerMonth: null };
  type U = { id: string; key: string; plan: string };
  const users: Record<string, U> = {};
  const admin = () => ({ key: stack.adminKey });

  async function postAll(items: Array<{ user: U; content: string; tasks: string[] }>): Promise<string[]> {
    const ids: string[] = new Array(items.length);
    for (let i = 0; i < items.length; i += 10) {
      await Promise.all(
        items.slice(i, i + 10).map(async (it, j) => {
          const res = await http<CreateItemResponse>('POST', `${stack.api}/v1/items`, { key: it.user.key, body: { content: it.content, tasks: it.tasks } });
          if (res.status !== 202) throw new Error(`POST /v1/items → ${res.status} ${JSON.stringify(res.body)}`);
          ids[i + j] = res.body.item.id;
        }),
      );
    }
    return ids;
  }

  const statuses = async (ids: string[]) =>
    Object.fromEntries((await stack.db.query<{ id: string; status: string }>(`SELECT id, status FROM items WHERE id = ANY($1)`, [ids])).map((r) => [r.id, r.status]));
  const allIn = (ids: string[], status: string, timeoutMs = 40_000) =>
    eventually(async () => {
      const s = await statuses(ids);
      return ids.every((id) => s[id] === status);
    }, timeoutMs, 200);
  const dlq = async () => (await http<DlqJobsResponse>('GET', `${stack.api}/admin/dlq`, admin())).body.jobs;
  const driftLines = () =>
    readFileSync(stack.services['ledger-consumer']!.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"event":"ledger.drift"'));
  const gauge = async () => {
    const text = await (await fetch(`${stack.services['ledger-consumer']!.url}/metrics`, { headers: stack.as('metrics') })).text();
    const m = /^ledger_drift_tokens\{day="all"[^}]*\} (\d+)$/m.exec(text);
    return m ? Number(m[1]) : null;
  };

  const expected = { completed: 0, failed: 0, hits: [] as string[] };

  it('runs 200 mixed items to the end with nothing in flight, and every entry where it belongs', async () => {
    for (const [name, plan] of [['p1', 'pro_monthly'], ['p2', 'pro_monthly'], ['p3', 'pro_annual'], ['f1', 'free'], ['f2', 'free'], ['g1', 'payg'], ['e1', 'enterprise']] as const) {
      users[name] = { ...(await createUser(stack.api, stack.adminKey, plan, OPEN)), plan };
    }
    const all = Object.values(users);
    const pick = (i: number) => all[i % all.length];
    const text = (kind: string, i: number) => `Ledger run ${run}: ${kind} number ${i}. Usage is charged before the call and settled after it, to the token.`;

    // Calls that fail until 10 s from now, all of one user: one tenant's failures, not a provider
    // outage (the breaker opens only on failures of several users), so five quick attempts
    // dead-letter these long before the 10 s are up, and their replays then succeed.
    const until = Date.now() + 10_000;
    const outage = await postAll(Array.from({ length: 10 }, (_, i) => ({ user: pick(0), content: `${text('outage', i)} [sim:fail_until=${until}]`, tasks: ['summarize'] })));
    await allIn(outage, 'FAILED', 9_000);
    const dead = await postAll(Array.from({ length: 20 }, (_, i) => ({ user: pick(i + 3), content: `${text('dead', i)} [sim:status=500]`, tasks: ['summarize'] })));
    const flaky = await postAll(Array.from({ length: 40 }, (_, i) => ({ user: pick(i + 1), content: `${text('flaky', i)} [sim:fail_first=1]`, tasks: ['summarize'] })));
    const missItems = Array.from({ length: 80 }, (_, i) => ({ user: pick(i + 2), content: text('miss', i), tasks: ['summarize', 'tag'] }));
    const misses = await postAll(missItems);
    await allIn([...misses, ...flaky], 'DONE');

    // Repeats of their own earlier content: pro users hit the cache, free users cannot.
    const repeatsOf = (names: string[], n: number) =>
      missItems.filter((m) => names.includes(Object.keys(users).find((k) => users[k] === m.user)!)).slice(0, n);
    const proRepeats = repeatsOf(['p1', 'p2', 'p3'], 30);
    const freeRepeats = repeatsOf(['f1', 'f2'], 10);
    const hits = await postAll(proRepeats);
    const freeAgain = await postAll(freeRepeats);
    const late = await postAll(Array.from({ length: 10 }, (_, i) => ({ user: pick(i), content: text('late', i), tasks: ['tag'] })));
    expect(outage.length + dead.length + flaky.length + misses.length + hits.length + freeAgain.length + late.length).toBe(200);

    await allIn([...hits, ...freeAgain, ...late], 'DONE');
    await allIn(dead, 'FAILED');
    await eventually(async () => {
      const jobs = new Set((await dlq()).map((j) => j.jobId));
      return [...dead, ...outage].every((id) => jobs.has(id));
    }, 20_000, 200);

    // Replays: the outage is over, so those succeed; the broken ones fail again.
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now() + 200)));
    const replays = [
      ...outage.map((id, i) => ({ id, chargeUser: i % 2 === 0 })),
      ...dead.slice(0, 4).map((id, i) => ({ id, chargeUser: i % 2 === 0 })),
    ];
    for (const r of replays) {
      const res = await http<ReplayResult>('POST', `${stack.api}/admin/dlq/${r.id}/replay`, { key: stack.adminKey, body: { chargeUser: r.chargeUser } });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ jobId: r.id, charged: r.chargeUser });
    }
    await allIn(outage, 'DONE');
    await allIn(dead.slice(0, 4), 'FAILED');
    // Each failed replay is dead-lettered again under its new job id, for the same item.
    await eventually(async () => {
      const jobs = await dlq();
      return dead.slice(0, 4).every((id) => jobs.some((j) => j.itemId === id && j.jobId !== id));
    }, 20_000, 200);

    // Every completion and every failure in the ledger once, and nothing left in flight.
    expected.completed = misses.length + flaky.length + hits.length + freeAgain.length + late.length + outage.length;
    expected.failed = dead.length + outage.length + 4;
    expected.hits = hits;
    await eventually(async () => {
      const [c] = await stack.db.query<{ completed: number; failed: number; reserved: number }>(
        `SELECT (SELECT count(*)::int FROM ai_usage_ledger WHERE kind = 'completed') AS completed,
                (SELECT count(*)::int FROM ai_usage_ledger WHERE kind = 'failed') AS failed,
                (SELECT count(*)::int FROM ai_usage_reservations WHERE status = 'RESERVED') AS reserved`,
      );
      return c.completed === expected.completed && c.failed === expected.failed && c.reserved === 0;
    }, 20_000, 200);
    const [ledger] = await stack.db.query<{ n: number; distinct: number; uncharged_completed: number; hit_items: string[] }>(
      `SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS distinct,
              count(*) FILTER (WHERE kind = 'completed' AND NOT charged)::int AS uncharged_completed,
              array_agg(item_id ORDER BY item_id) FILTER (WHERE cache_hit) AS hit_items
         FROM ai_usage_ledger`,
    );
    expect(ledger).toEqual({ n: expected.completed + expected.failed, distinct: expected.completed + expected.failed, uncharged_completed: 5, hit_items: [...hits].sort() });
    // Reservations: one per accepted item plus one per charged replay; each settled or released.
    const rs = await stack.db.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM ai_usage_reservations GROUP BY status ORDER BY status`);
    expect(rs).toEqual([
      { status: 'RELEASED', n: dead.length + outage.length + 2 },
      { status: 'SETTLED', n: expected.completed - 5 },
    ]);
  }, 120_000);

  it('drift is 0 for every user and day, agrees with the quota API and /v1/usage, and was 0 all along', async () => {
    const res = await http<ReconciliationResponse>('GET', `${stack.api}/admin/reconciliation`, admin());
    expect(res.status).toBe(200);
    const rows = res.body.rows;
    expect(res.body.totalDrift).toBe(0);
    expect(rows.map((r) => r.userId).sort()).toEqual(Object.values(users).map((u) => u.id).sort());
    for (const row of rows) {
      expect(row.day).toBe(today);
      expect(row.drift).toBe(0);
      expect(row.reservedTokens).toBe(0);
      expect(row.counterTokens).toBe(row.settledTokens);
      expect(row.ledgerTokens).toBe(row.settledTokens);
      expect(row.counterTokens).toBeGreaterThan(0);
    }
    for (const user of Object.values(users)) {
      const row = rows.find((r) => r.userId === user.id)!;
      const quota = await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key: user.key });
      expect(quota.body.quotas.tokensPerDay.used).toBe(row.counterTokens);
      expect(quota.body.quotas.concurrentJobs.used).toBe(0);
      const usage = await http<UsagePage>('GET', `${stack.api}/v1/usage?limit=1`, { key: user.key });
      expect(usage.body.totals.today.tokens).toBe(row.counterTokens);
      expect(usage.body.totals.month.tokens).toBe(row.counterTokens);
      const [month] = await stack.db.query<{ tokens: string }>(`SELECT tokens::text FROM ai_monthly_usage WHERE user_id = $1`, [user.id]);
      expect(Number(month.tokens)).toBe(row.counterTokens);
    }
    // The consumer reconciled every 250 ms throughout and never logged drift.
    expect(await gauge()).toBe(0);
    expect(driftLines()).toEqual([]);

    const cli = await ops(['reconcile']);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('No drift.');
    for (const u of Object.values(users)) expect(cli.stdout).toContain(u.id);
  });

  it('reports usage per plan, model and day that adds up to the ledger', async () => {
    const res = await http<UsageReportResponse>('GET', `${stack.api}/admin/reports/usage`, admin());
    expect(res.status).toBe(200);
    const rows = res.body.rows;
    const byPlan = await stack.db.query<{ plan: string; calls: number; tokens: number; hits: number; saved: number; cost: string }>(
      `SELECT u.plan_id AS plan, count(*)::int AS calls, sum(l.total_tokens)::int AS tokens, count(*) FILTER (WHERE l.cache_hit)::int AS hits,
              sum(l.tokens_saved)::int AS saved, sum(l.cost_usd)::text AS cost
         FROM ai_usage_ledger l JOIN users u ON u.id = l.user_id WHERE l.kind = 'completed' GROUP BY u.plan_id ORDER BY u.plan_id`,
    );
    const plans = [...new Set(rows.map((r) => r.plan))].sort();
    expect(plans).toEqual(['enterprise', 'free', 'payg', 'pro_annual', 'pro_monthly']);
    for (const p of byPlan) {
      const mine = rows.filter((r) => r.plan === p.plan);
      expect(mine.every((r) => r.day === today)).toBe(true);
      expect({
        calls: mine.reduce((s, r) => s + r.calls, 0),
        tokens: mine.reduce((s, r) => s + r.tokens, 0),
        hits: mine.reduce((s, r) => s + r.cacheHits, 0),
        saved: mine.reduce((s, r) => s + r.tokensSaved, 0),
      }).toEqual({ calls: p.calls, tokens: p.tokens, hits: p.hits, saved: p.saved });
      expect(mine.reduce((s, r) => s + r.costUsd, 0)).toBeCloseTo(Number(p.cost), 8);
    }
    expect(rows.reduce((s, r) => s + r.calls, 0)).toBe(expected.completed);
    expect(rows.reduce((s, r) => s + r.cacheHits, 0)).toBe(expected.hits.length);
    // Only pro plans have a cache.
    expect(rows.filter((r) => r.cacheHits > 0).every((r) => r.plan.startsWith('pro_'))).toBe(true);
  });

  it('GET /v1/usage pages newest first with neither gaps nor repeats, and totals today and this month', async () => {
    const user = users.p1;
    const all = await stack.db.query<{ id: string; kind: string; charged: boolean; total_tokens: number; cost_usd: string; tokens_saved: number }>(
      `SELECT id, kind, charged, total_tokens, cost_usd::text, tokens_saved FROM ai_usage_ledger WHERE user_id = $1 ORDER BY id DESC`,
      [user.id],
    );
    expect(all.length).toBeGreaterThan(20);
    const seen: Array<{ id: string; createdAt: string }> = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      // Annotated: `cursor`, which the URL reads, is assigned from it below.
      const res: HttpResult<UsagePage> = await http('GET', `${stack.api}/v1/usage?limit=7${cursor ? `&cursor=${cursor}` : ''}`, { key: user.key });
      expect(res.status).toBe(200);
      expect(res.body.entries.length).toBeLessThanOrEqual(7);
      seen.push(...res.body.entries);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 50);
    expect(pages).toBe(Math.ceil(all.length / 7));
    expect(seen.map((e) => e.id)).toEqual(all.map((r) => r.id));
    for (let i = 1; i < seen.length; i++) expect(seen[i - 1].createdAt >= seen[i].createdAt).toBe(true);

    const body = (await http<UsagePage>('GET', `${stack.api}/v1/usage`, { key: user.key })).body;
    const charged = all.filter((r) => r.kind === 'completed' && r.charged);
    const totals = {
      entries: all.length,
      tokens: charged.reduce((s, r) => s + r.total_tokens, 0),
      tokensSaved: all.reduce((s, r) => s + r.tokens_saved, 0),
    };
    expect(body.totals.today).toMatchObject(totals);
    expect(body.totals.month).toMatchObject(totals);
    expect(body.totals.today.costUsd).toBeCloseTo(charged.reduce((s, r) => s + Number(r.cost_usd), 0), 8);
    // Someone else's entries never show: another user's page is disjoint.
    const other = (await http<UsagePage>('GET', `${stack.api}/v1/usage?limit=200`, { key: users.p2.key })).body.entries;
    expect(other.length).toBeGreaterThan(0);
    expect(other.some((e) => all.some((r) => r.id === e.id))).toBe(false);
    expect((await http('GET', `${stack.api}/v1/usage`)).status).toBe(401);
    expect((await http('GET', `${stack.api}/v1/usage?limit=0`, { key: user.key })).status).toBe(400);
  });

  it('a corrupted counter shows as its exact drift in the API, the CLI exits 1, and the gauge shows it', async () => {
    const victim = users.g1;
    await stack.db.query(`UPDATE ai_daily_usage SET tokens = tokens + 41 WHERE user_id = $1 AND day = $2::date`, [victim.id, today]);
    const res = await http<ReconciliationResponse>('GET', `${stack.api}/admin/reconciliation`, admin());
    expect(res.body.totalDrift).toBe(41);
    const bad = res.body.rows.filter((r) => r.drift !== 0);
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ userId: victim.id, drift: 41 });
    expect(bad[0].counterTokens - bad[0].settledTokens).toBe(41);
    const mine = await http<ReconciliationResponse>('GET', `${stack.api}/admin/reconciliation?userId=${victim.id}`, admin());
    expect(mine.body.rows).toHaveLength(1);
    expect(mine.body.totalDrift).toBe(41);
    // The drifting rows alone; a limit bounds the rows, never the sum.
    const drifting = await http<ReconciliationResponse>('GET', `${stack.api}/admin/reconciliation?drifting=true`, admin());
    expect(drifting.body).toEqual({ rows: [bad[0]], totalDrift: 41, truncated: false });
    const first = await http<ReconciliationResponse>('GET', `${stack.api}/admin/reconciliation?limit=1`, admin());
    expect(first.body.rows).toHaveLength(1);
    expect(first.body).toMatchObject({ totalDrift: 41, truncated: true });
    expect((await http('GET', `${stack.api}/admin/reconciliation?limit=10001`, admin())).status).toBe(400);

    const cli = await ops(['reconcile']);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain('DRIFT: 41 tokens');
    // --drifting: the one drifting user-day alone, under the header.
    const driftingCli = await ops(['reconcile', '--drifting']);
    expect(driftingCli.code).toBe(1);
    expect(driftingCli.stdout.trim().split('\n')).toHaveLength(3);
    expect(driftingCli.stdout).toContain(victim.id);
    await eventually(async () => (await gauge()) === 41, 10_000, 100);
    await eventually(async () => driftLines().some((l) => JSON.parse(l).userId === victim.id && JSON.parse(l).drift === 41), 5000, 100);

    // Non-admins see none of it.
    expect((await http('GET', `${stack.api}/admin/reconciliation`, { key: victim.key })).status).toBe(403);
    expect((await http('GET', `${stack.api}/admin/reports/usage`, { key: victim.key })).status).toBe(403);
  });

  const ops = (args: string[]) => runOps(stack, args);
});
