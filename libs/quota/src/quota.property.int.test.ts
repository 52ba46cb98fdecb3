/*
 * Property tests against the real database: random batches of charge / replay / settle / release /
 * expiry, each batch fired concurrently, over a clock that crosses midnight and a month end. After
 * every batch no limit is exceeded and the counters equal what the reservations say they should.
 */
import fc from 'fast-check';
import { useTestDatabase } from '@qv/testing';
import { charge, expireStale, release, settle } from './index';
import { chargeBody, createUser } from './testing';

const db = useTestDatabase();

type Limits = { concurrentJobs: number | null; callsPerHour: number | null; enrichmentsPerDay: number; tokensPerDay: number; tokensPerMonth: number };
/** Three users, each tight on different limits, so every check gets reached. */
const PROFILES: Limits[] = [
  { concurrentJobs: 2, callsPerHour: 6, enrichmentsPerDay: 8, tokensPerDay: 400, tokensPerMonth: 900 },
  { concurrentJobs: null, callsPerHour: 4, enrichmentsPerDay: 10, tokensPerDay: 600, tokensPerMonth: 900 },
  { concurrentJobs: null, callsPerHour: null, enrichmentsPerDay: 5, tokensPerDay: 250, tokensPerMonth: 400 },
];
const INF = Number.MAX_SAFE_INTEGER;
const TTL = 600;
const START = new Date('2026-06-30T22:30:00.000Z').getTime();

type Op =
  | { kind: 'charge'; user: number; estimate: number }
  | { kind: 'replay'; pick: number }
  | { kind: 'settle'; pick: number; fraction: number }
  | { kind: 'release'; pick: number }
  | { kind: 'expire' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('charge' as const), user: fc.nat(2), estimate: fc.integer({ min: 10, max: 120 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replay' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('settle' as const), pick: fc.nat(), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'expire' as const }) },
);
const batch = fc.record({ advanceMs: fc.integer({ min: 0, max: 25 * 60_000 }), ops: fc.array(op, { minLength: 1, maxLength: 8 }) });

interface Known {
  id: string;
  estimate: number;
  body: ReturnType<typeof chargeBody>;
}

async function checkInvariants(users: string[]): Promise<void> {
  for (let i = 0; i < users.length; i++) await checkUser(users[i], PROFILES[i]);
}

async function checkUser(user: string, limits: Limits): Promise<void> {
  const params = [[user]];
  // 1. In flight never above the concurrency limit.
  const inFlight = await db().query<{ n: number }>(`SELECT count(*)::int AS n FROM ai_usage_reservations WHERE user_id = ANY($1) AND status = 'RESERVED' GROUP BY user_id`, params);
  for (const { n } of inFlight) expect(n).toBeLessThanOrEqual(limits.concurrentJobs ?? INF);
  // 2. No 60-minute window ending at any call holds more calls than the limit (released ones refunded).
  const [{ worst }] = await db().query<{ worst: number | null }>(
    `SELECT max(c)::int AS worst FROM (
       SELECT (SELECT count(*) FROM ai_usage_reservations o
                WHERE o.user_id = r.user_id AND o.status <> 'RELEASED'
                  AND o.created_at > r.created_at - interval '1 hour' AND o.created_at <= r.created_at) AS c
         FROM ai_usage_reservations r WHERE r.user_id = ANY($1) AND r.status <> 'RELEASED') w`,
    params,
  );
  expect(worst ?? 0).toBeLessThanOrEqual(limits.callsPerHour ?? INF);
  // 3. Day and month counters within their limits and equal to what their reservations add up to:
  //    a settled reservation weighs its actual tokens, a reserved or expired one its estimate.
  const days = await db().query<{ enrichments: number; tokens: number; expected_enrichments: number; expected_tokens: number }>(
    `SELECT d.enrichments, d.tokens::int AS tokens,
            (SELECT count(*)::int FROM ai_usage_reservations r WHERE r.user_id = d.user_id AND r.day = d.day AND r.status <> 'RELEASED') AS expected_enrichments,
            (SELECT coalesce(sum(CASE WHEN r.status = 'SETTLED' THEN r.actual_tokens ELSE r.estimated_tokens END), 0)::int
               FROM ai_usage_reservations r WHERE r.user_id = d.user_id AND r.day = d.day AND r.status <> 'RELEASED') AS expected_tokens
       FROM ai_daily_usage d WHERE d.user_id = ANY($1)`,
    params,
  );
  for (const d of days) {
    expect(d.enrichments).toBeLessThanOrEqual(limits.enrichmentsPerDay);
    expect(d.tokens).toBeLessThanOrEqual(limits.tokensPerDay);
    expect({ enrichments: d.enrichments, tokens: d.tokens }).toEqual({ enrichments: d.expected_enrichments, tokens: d.expected_tokens });
  }
  const months = await db().query<{ tokens: number; expected: number }>(
    `SELECT m.tokens::int AS tokens,
            (SELECT coalesce(sum(CASE WHEN r.status = 'SETTLED' THEN r.actual_tokens ELSE r.estimated_tokens END), 0)::int
               FROM ai_usage_reservations r WHERE r.user_id = m.user_id AND r.month = m.month AND r.status <> 'RELEASED') AS expected
       FROM ai_monthly_usage m WHERE m.user_id = ANY($1)`,
    params,
  );
  for (const m of months) {
    expect(m.tokens).toBeLessThanOrEqual(limits.tokensPerMonth);
    expect(m.tokens).toBe(m.expected);
  }
}

const seen: Record<string, number> = {};

const refusalKinds = () => Object.keys(seen).filter((k) => k.endsWith('_EXCEEDED')).length;

it('any interleaving of charge / settle / release / expiry keeps every limit and ends with nothing in flight', async () => {
  // Random runs may, rarely, all miss some limits: more runs then (up to three rounds), every one checked.
  for (let round = 0; round < 3 && (round === 0 || refusalKinds() < 3 || !seen.EXPIRED); round++) await interleavings();
  // The runs must have reached the limits and the sweeper, or they proved little.
  expect(seen.ACCEPTED).toBeGreaterThan(50);
  expect(seen.EXPIRED).toBeGreaterThan(0);
  expect(refusalKinds()).toBeGreaterThanOrEqual(3);
  console.log('property coverage', seen);
  // Generous: up to three rounds of 25 runs of up to 10 concurrent batches; one round takes 6 s on
  // a quiet machine and several times that when other suites share its two cores.
}, 480_000);

/** 25 random runs, each of up to ten concurrent batches of operations over three users. */
async function interleavings(): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(batch, { minLength: 1, maxLength: 10 }), async (batches) => {
      const users: string[] = [];
      for (const limits of PROFILES) users.push(await createUser(db().query, 'free', limits));
      const known: Known[] = [];
      let clock = START;
      const pick = (n: number) => (known.length ? known[n % known.length] : null);
      const run = async (o: Op, now: Date): Promise<void> => {
        switch (o.kind) {
          case 'charge': {
            const body = chargeBody(users[o.user], o.estimate);
            const r = await charge(db().sql, body, { now, reservationTtlSeconds: TTL });
            if (r.ok) known.push({ id: r.reservation.id, estimate: o.estimate, body });
            seen[r.ok ? 'ACCEPTED' : r.code] = (seen[r.ok ? 'ACCEPTED' : r.code] ?? 0) + 1;
            return;
          }
          case 'replay': {
            const k = pick(o.pick);
            if (!k) return;
            const r = await charge(db().sql, k.body, { now, reservationTtlSeconds: TTL });
            expect(r).toMatchObject({ ok: true, replayed: true, reservation: { id: k.id } });
            return;
          }
          case 'settle': {
            const k = pick(o.pick);
            if (k) await settle(db().sql, k.id, Math.floor(o.fraction * k.estimate), now);
            return;
          }
          case 'release': {
            const k = pick(o.pick);
            if (k) await release(db().sql, k.id, now);
            return;
          }
          case 'expire':
            seen.EXPIRED = (seen.EXPIRED ?? 0) + (await expireStale(db().sql, now));
        }
      };
      for (const b of batches) {
        clock += b.advanceMs;
        const now = new Date(clock);
        await Promise.all(b.ops.map((o) => run(o, now)));
        await checkInvariants(users);
      }
      // Wind down: finish everything still in flight, half settled, half released.
      const now = new Date(clock + 1000);
      const open = await db().query<{ id: string; estimated_tokens: number }>(`SELECT id, estimated_tokens FROM ai_usage_reservations WHERE user_id = ANY($1) AND status = 'RESERVED'`, [users]);
      await Promise.all(open.map((r, i) => (i % 2 ? settle(db().sql, r.id, Math.floor(r.estimated_tokens / 2), now) : release(db().sql, r.id, now))));
      const [{ reserved }] = await db().query<{ reserved: number }>(`SELECT count(*)::int AS reserved FROM ai_usage_reservations WHERE user_id = ANY($1) AND status = 'RESERVED'`, [users]);
      expect(reserved).toBe(0);
      await checkInvariants(users);
      // Totals: the day and month counters hold exactly the settled actuals plus the expired estimates.
      const [totals] = await db().query<{ counted: number; day_sum: number; month_sum: number }>(
        `SELECT (SELECT coalesce(sum(CASE status WHEN 'SETTLED' THEN actual_tokens WHEN 'EXPIRED' THEN estimated_tokens ELSE 0 END), 0)::int
                   FROM ai_usage_reservations WHERE user_id = ANY($1)) AS counted,
                (SELECT coalesce(sum(tokens), 0)::int FROM ai_daily_usage WHERE user_id = ANY($1)) AS day_sum,
                (SELECT coalesce(sum(tokens), 0)::int FROM ai_monthly_usage WHERE user_id = ANY($1)) AS month_sum`,
        [users],
      );
      expect(totals.day_sum).toBe(totals.counted);
      expect(totals.month_sum).toBe(totals.counted);
    }),
    { numRuns: 25 },
  );
}
