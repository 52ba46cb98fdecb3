import { newId } from '@qv/contracts';
import { settle } from '@qv/quota';
import { useTestDatabase } from '@qv/testing';
import { applyUsageEvent } from './apply-usage-event';
import { reconcile, reconciliationSummary } from './reconciliation';
import { usageReport } from './usage-report';
import { completedEvent, failedEvent, insertUser, reserve } from './testing';

const db = useTestDatabase();

const today = new Date();
const yesterday = new Date(today.getTime() - 86_400_000);
const dayKey = (d: Date) => d.toISOString().slice(0, 10);

describe('reconcile', () => {
  it('reports each view of the tokens per user and day, and the exact drift a corrupted counter or a lost entry causes', async () => {
    const user = await insertUser(db().query);
    const settled = await reserve(db().sql, user, 500, today);
    const inFlight = await reserve(db().sql, user, 300, today);
    const released = await reserve(db().sql, user, 200, today);
    const old = await reserve(db().sql, user, 700, yesterday);
    await applyUsageEvent(db().sql, completedEvent(settled, { prompt: 100, completion: 20 }));
    await applyUsageEvent(db().sql, failedEvent(released));
    await applyUsageEvent(db().sql, completedEvent(old, { prompt: 400, completion: 1 }));
    // An uncharged replay: in the ledger, not in the reconciled tokens.
    await applyUsageEvent(db().sql, completedEvent({ ...settled, jobId: newId('job') }, { prompt: 999, completion: 1 }, { reservationId: null, charged: false }));
    void inFlight;

    expect(await reconcile(db().sql, { userId: user })).toEqual([
      { userId: user, day: dayKey(today), reservedTokens: 300, settledTokens: 120, ledgerTokens: 120, counterTokens: 420, drift: 0 },
      { userId: user, day: dayKey(yesterday), reservedTokens: 0, settledTokens: 401, ledgerTokens: 401, counterTokens: 401, drift: 0 },
    ]);

    // A counter moved by something other than a charge, settle or release.
    await db().query(`UPDATE ai_daily_usage SET tokens = tokens + 37 WHERE user_id = $1 AND day = $2::date`, [user, dayKey(today)]);
    // A settlement that bypassed the ledger (settled straight through the quota engine).
    const stray = await reserve(db().sql, user, 250, yesterday);
    await settle(db().sql, stray.reservationId, 90, today);
    expect(await reconcile(db().sql, { userId: user })).toEqual([
      { userId: user, day: dayKey(today), reservedTokens: 300, settledTokens: 120, ledgerTokens: 120, counterTokens: 457, drift: 37 },
      { userId: user, day: dayKey(yesterday), reservedTokens: 0, settledTokens: 491, ledgerTokens: 401, counterTokens: 491, drift: 90 },
    ]);
    // Entries cannot be edited away to hide it: the ledger is append-only in the database.
    await expect(db().query(`DELETE FROM ai_usage_ledger WHERE reservation_id = $1`, [old.reservationId])).rejects.toThrow('append-only');
    await expect(db().query(`UPDATE ai_usage_ledger SET total_tokens = 0 WHERE reservation_id = $1`, [old.reservationId])).rejects.toThrow('append-only');
    // `since` leaves older days out.
    expect((await reconcile(db().sql, { userId: user, since: dayKey(today) })).map((r) => r.day)).toEqual([dayKey(today)]);
  });
});

describe('usageReport', () => {
  it('sums calls, tokens, cost and cache savings per plan, model and day exactly as the ledger holds them', async () => {
    const users = { pro_monthly: await insertUser(db().query, 'pro_monthly'), free: await insertUser(db().query, 'free'), payg: await insertUser(db().query, 'payg') };
    // Costs in whole units of 1e-8 USD (the column's scale), so expected sums are exact integers.
    const U = 1e-8;
    type Row = { plan: string; model: string; day: string; tokens: number; cost: number; hit: boolean; saved: number; costSaved: number };
    const expected = new Map<string, { calls: number; tokens: number; cost: number; cacheHits: number; tokensSaved: number; costSaved: number }>();
    const record = (r: Row) => {
      const key = `${r.plan}|${r.model}|${r.day}`;
      const e = expected.get(key) ?? { calls: 0, tokens: 0, cost: 0, cacheHits: 0, tokensSaved: 0, costSaved: 0 };
      e.calls++;
      e.tokens += r.tokens;
      e.cost += r.cost;
      e.cacheHits += r.hit ? 1 : 0;
      e.tokensSaved += r.saved;
      e.costSaved += r.costSaved;
      expected.set(key, e);
    };
    let n = 0;
    for (const [plan, userId] of Object.entries(users)) {
      for (const day of [today, yesterday]) {
        for (const model of ['sim-1', 'gpt-4o-mini']) {
          for (let i = 0; i < 3; i++) {
            n++;
            const c = await reserve(db().sql, userId, 900, day);
            const hit = i === 2;
            const prompt = hit ? 0 : 100 + n * 7;
            const completion = hit ? 0 : 20 + n;
            const cost = hit ? 0 : 1234 * n;
            const saved = hit ? 300 + n : 0;
            const costSaved = hit ? 777 * n : 0;
            await applyUsageEvent(
              db().sql,
              completedEvent(c, { prompt, completion }, { model, costUsd: cost * U, cache: { tier: hit ? 'content' : null, hit, tokensSaved: saved, costSavedUsd: costSaved * U } }),
              day,
            );
            record({ plan, model, day: dayKey(day), tokens: prompt + completion, cost, hit, saved, costSaved });
          }
          // A failure is not a call; an uncharged replay is (it was really made, at our cost).
          const failed = await reserve(db().sql, userId, 900, day);
          await applyUsageEvent(db().sql, failedEvent(failed), day);
          const replay = await reserve(db().sql, userId, 1, day);
          await applyUsageEvent(db().sql, completedEvent({ ...replay, jobId: newId('job') }, { prompt: 50, completion: 5 }, { model, costUsd: 99 * U, reservationId: null, charged: false }), day);
          record({ plan, model, day: dayKey(day), tokens: 55, cost: 99, hit: false, saved: 0, costSaved: 0 });
        }
      }
    }
    // The report rows of the earlier test's user (pro_monthly, sim-1) are in the same database: include them.
    const others = await db().query<{ plan: string; model: string; day: string; tokens: number; cost: string; saved: number; cost_saved: string; hit: boolean }>(
      `SELECT u.plan_id AS plan, l.model, l.day::text AS day, l.total_tokens AS tokens, l.cost_usd::text AS cost, l.tokens_saved AS saved, l.cost_saved_usd::text AS cost_saved, l.cache_hit AS hit
         FROM ai_usage_ledger l JOIN users u ON u.id = l.user_id WHERE l.kind = 'completed' AND l.user_id <> ALL($1)`,
      [Object.values(users)],
    );
    for (const o of others) record({ plan: o.plan, model: o.model, day: o.day, tokens: o.tokens, cost: Math.round(Number(o.cost) / U), hit: o.hit, saved: o.saved, costSaved: Math.round(Number(o.cost_saved) / U) });

    const report = await usageReport(db().sql, { since: dayKey(yesterday) });
    const got = new Map(report.map((r) => [`${r.plan}|${r.model}|${r.day}`, r]));
    expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, e] of expected) {
      const r = got.get(key)!;
      expect({ calls: r.calls, tokens: r.tokens, cost: Math.round(r.costUsd / U), cacheHits: r.cacheHits, tokensSaved: r.tokensSaved, costSaved: Math.round(r.costSavedUsd / U) }).toEqual(e);
    }
    // Newest day first.
    expect(report[0].day).toBe(dayKey(today));
    expect(report[report.length - 1].day).toBe(dayKey(yesterday));
    // One row worked out by hand: payg / gpt-4o-mini / today holds n = 28, 29, the hit n = 30, and a replay.
    expect(got.get(`payg|gpt-4o-mini|${dayKey(today)}`)).toEqual({
      plan: 'payg',
      model: 'gpt-4o-mini',
      day: dayKey(today),
      calls: 4,
      tokens: 344 + 352 + 55,
      costUsd: 0.00070437,
      cacheHits: 1,
      tokensSaved: 330,
      costSavedUsd: 0.0002331,
    });
  });
});

describe('reconciliationSummary', () => {
  it('answers at most the rows asked for, the drifting ones alone if asked, and sums the drift over every row that matches', async () => {
    const users = [await insertUser(db().query), await insertUser(db().query), await insertUser(db().query)];
    for (const user of users) await reserve(db().sql, user, 100, today);
    // Two of them drift: 5 and 7 tokens on their counters.
    await db().query(`UPDATE ai_daily_usage SET tokens = tokens + 5 WHERE user_id = $1`, [users[0]]);
    await db().query(`UPDATE ai_daily_usage SET tokens = tokens + 7 WHERE user_id = $1`, [users[2]]);
    const since = dayKey(today);
    const ours = <R extends { userId: string }>(rows: R[]) => rows.filter((r) => users.includes(r.userId));

    const drifting = await reconciliationSummary(db().sql, { since, onlyDrifting: true }, 1000);
    expect(ours(drifting.rows).map((r) => [r.userId, r.drift]).sort()).toEqual([[users[0], 5], [users[2], 7]].sort());
    expect(drifting.rows.every((r) => r.drift !== 0)).toBe(true);
    expect(drifting.truncated).toBe(false);

    const one = await reconciliationSummary(db().sql, { since, onlyDrifting: true }, 1);
    expect(one.rows).toHaveLength(1);
    expect(one.truncated).toBe(true);
    expect(one.totalDrift).toBe(drifting.totalDrift);
    expect(one.driftByDay[since]).toBe(drifting.totalDrift);

    for (const user of users) {
      const alone = await reconciliationSummary(db().sql, { since, userId: user }, 1000);
      expect(alone.rows).toHaveLength(1);
      expect(alone.totalDrift).toBe(user === users[0] ? 5 : user === users[2] ? 7 : 0);
    }
    expect(await reconciliationSummary(db().sql, { since, userId: users[1], onlyDrifting: true }, 1000)).toEqual({ rows: [], totalDrift: 0, driftByDay: {}, truncated: false });
  });
});
