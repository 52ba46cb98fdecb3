import { expireStale } from '@qv/quota';
import { useTestDatabase } from '@qv/testing';
import fc from 'fast-check';
import { applyUsageEvent } from './apply-usage-event';
import { reconcile } from './reconciliation';
import { completedEvent, failedEvent, insertUser, reserve, type Charged } from './testing';

/**
 * Orderings of settle (usage.completed), release (usage.failed) and expiry for several reservations,
 * each event delivered 1–3 times, run in batches whose members race. The same operations run in two
 * different orders on two twin sets of reservations, and the outcomes are compared.
 */

const db = useTestDatabase();

const TTL_S = 60;
// A fixed past clock: every set gets its own 5-minute slot, so one set's expiry never reaches another's.
const START = Date.parse('2026-03-10T00:00:00.000Z');
const SLOT_MS = 5 * 60_000;
const SINCE = '2026-03-01';

interface Spec {
  user: 0 | 1;
  estimate: number;
  completed: { prompt: number; completion: number } | null;
  failed: boolean;
  deliveries: number;
}

type Op = { kind: 'completed' | 'failed'; r: number } | { kind: 'expire' };

const spec: fc.Arbitrary<Spec> = fc.record({
  user: fc.constantFrom(0 as const, 1 as const),
  estimate: fc.integer({ min: 1, max: 2000 }),
  completed: fc.option(fc.record({ prompt: fc.integer({ min: 0, max: 1500 }), completion: fc.integer({ min: 0, max: 800 }) }), { freq: 3 }),
  failed: fc.boolean(),
  deliveries: fc.integer({ min: 1, max: 3 }),
});

function opsOf(specs: Spec[], expiries: number): Op[] {
  const ops: Op[] = [];
  specs.forEach((s, r) => {
    for (let i = 0; i < s.deliveries; i++) {
      if (s.completed) ops.push({ kind: 'completed', r });
      if (s.failed) ops.push({ kind: 'failed', r });
    }
  });
  for (let i = 0; i < expiries; i++) ops.push({ kind: 'expire' });
  return ops;
}

const scenario = fc
  .tuple(fc.array(spec, { minLength: 2, maxLength: 5 }), fc.integer({ min: 0, max: 2 }))
  .chain(([specs, expiries]) => {
    const ops = opsOf(specs, expiries);
    const order = fc.shuffledSubarray(ops, { minLength: ops.length, maxLength: ops.length });
    const batches = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: ops.length, maxLength: ops.length });
    return fc.record({ specs: fc.constant(specs), first: order, second: order, firstBatches: batches, secondBatches: batches });
  });

let slot = 0;

/** Fresh users and reservations for `specs`, the ops applied in `order`, grouped into racing batches. */
async function run(specs: Spec[], order: Op[], batchSizes: number[]) {
  const base = START + slot++ * SLOT_MS;
  const users = [await insertUser(db().query), await insertUser(db().query)];
  const charged: Charged[] = [];
  for (const s of specs) charged.push(await reserve(db().sql, users[s.user], s.estimate, new Date(base), TTL_S));
  const eventAt = new Date(base + 30_000);
  const expireAt = new Date(base + (TTL_S + 1) * 1000);
  const apply = (op: Op): Promise<unknown> => {
    if (op.kind === 'expire') return expireStale(db().sql, expireAt);
    const c = charged[op.r];
    const event = op.kind === 'completed' ? completedEvent(c, specs[op.r].completed!) : failedEvent(c);
    return applyUsageEvent(db().sql, event, eventAt);
  };
  for (let i = 0, b = 0; i < order.length; b++) {
    const size = batchSizes[b];
    await Promise.all(order.slice(i, i + size).map(apply));
    i += size;
  }
  // Wind down: whatever no event finished expires.
  await expireStale(db().sql, expireAt);
  return { users, charged };
}

interface Outcome {
  status: string;
  actual: number | null;
  entries: Array<{ kind: string; charged: boolean; tokens: number }>;
}

async function outcomes(charged: Charged[]): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const c of charged) {
    const [r] = await db().query<{ status: string; actual_tokens: number | null }>(`SELECT status, actual_tokens FROM ai_usage_reservations WHERE id = $1`, [c.reservationId]);
    const entries = await db().query<{ kind: string; charged: boolean; tokens: number }>(
      `SELECT kind, charged, total_tokens AS tokens FROM ai_usage_ledger WHERE reservation_id = $1 ORDER BY kind`,
      [c.reservationId],
    );
    out.push({ status: r.status, actual: r.actual_tokens, entries });
  }
  return out;
}

async function checkRun(specs: Spec[], users: string[], charged: Charged[]): Promise<Outcome[]> {
  const got = await outcomes(charged);
  specs.forEach((s, i) => {
    const o = got[i];
    // Exactly one terminal state, and one ledger entry per event id however often it was delivered.
    expect(['SETTLED', 'RELEASED', 'EXPIRED']).toContain(o.status);
    expect(o.entries.map((e) => e.kind)).toEqual([...(s.completed ? ['completed'] : []), ...(s.failed ? ['failed'] : [])]);
    const winners = o.entries.filter((e) => e.charged);
    if (!s.completed && !s.failed) {
      expect(o).toEqual({ status: 'EXPIRED', actual: null, entries: [] });
    } else {
      // Exactly one event took effect, and the status is its.
      expect(winners).toHaveLength(1);
      if (winners[0].kind === 'completed') expect(o).toMatchObject({ status: 'SETTLED', actual: s.completed!.prompt + s.completed!.completion });
      else expect(o).toMatchObject({ status: 'RELEASED', actual: null });
    }
    if (s.completed && !s.failed) expect(o.status).toBe('SETTLED');
    if (s.failed && !s.completed) expect(o.status).toBe('RELEASED');
  });
  // Counters hold exactly settled actuals plus expired estimates; enrichments all but the released.
  for (const user of users) {
    const mine = charged.map((c, i) => ({ c, o: got[i] })).filter(({ c }) => c.userId === user);
    const tokens = mine.reduce((sum, { c, o }) => sum + (o.status === 'SETTLED' ? o.actual! : o.status === 'EXPIRED' ? c.estimate : 0), 0);
    const enrichments = mine.filter(({ o }) => o.status !== 'RELEASED').length;
    const [d] = await db().query<{ tokens: string; enrichments: number }>(`SELECT tokens::text, enrichments FROM ai_daily_usage WHERE user_id = $1`, [user]);
    const [m] = await db().query<{ tokens: string }>(`SELECT tokens::text FROM ai_monthly_usage WHERE user_id = $1`, [user]);
    expect({ day: Number(d?.tokens ?? 0), month: Number(m?.tokens ?? 0), enrichments: d?.enrichments ?? 0 }).toEqual({ day: tokens, month: tokens, enrichments });
    for (const row of await reconcile(db().sql, { userId: user, since: SINCE })) expect(row.drift).toBe(0);
  }
  const [dups] = await db().query<{ n: number; distinct: number }>(`SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS distinct FROM ai_usage_ledger WHERE user_id = ANY($1)`, [users]);
  expect(dups.n).toBe(dups.distinct);
  return got;
}

it('settle / release / expiry in any order and any race: one terminal state each, one entry per event, no drift, order-free where no two events compete', async () => {
  let compared = 0;
  let conflicts = 0;
  await fc.assert(
    fc.asyncProperty(scenario, async ({ specs, first, second, firstBatches, secondBatches }) => {
      const a = await run(specs, first, firstBatches);
      const b = await run(specs, second, secondBatches);
      const outA = await checkRun(specs, a.users, a.charged);
      const outB = await checkRun(specs, b.users, b.charged);
      specs.forEach((s, i) => {
        if (s.completed && s.failed) {
          conflicts++;
          return; // which one wins depends on the order, by design
        }
        compared++;
        expect(outB[i]).toEqual(outA[i]);
      });
    }),
    { numRuns: 30 },
  );
  // The runs must have exercised both kinds, or they proved little.
  expect(compared).toBeGreaterThan(40);
  expect(conflicts).toBeGreaterThan(5);
  const [all] = await db().query<{ n: number }>(`SELECT count(*)::int AS n FROM ai_usage_ledger`);
  const [statuses] = await db().query<{ settled: number; released: number; expired: number; reserved: number }>(
    `SELECT count(*) FILTER (WHERE status = 'SETTLED')::int AS settled, count(*) FILTER (WHERE status = 'RELEASED')::int AS released,
            count(*) FILTER (WHERE status = 'EXPIRED')::int AS expired, count(*) FILTER (WHERE status = 'RESERVED')::int AS reserved
       FROM ai_usage_reservations`,
  );
  expect(statuses.reserved).toBe(0);
  expect(Math.min(statuses.settled, statuses.released, statuses.expired)).toBeGreaterThan(0);
  expect(all.n).toBeGreaterThan(50);
}, 120_000);
