/*
 * The rules of a charge live in PostgreSQL alone (prisma/functions). This file holds them to a
 * reference model written here, in the test only: the same random scenarios go to quota_charge and
 * to the model, which must agree on the limits, the usage figures, the decision (accept, or the same
 * first failing code) and the call to wait for in the rolling hour.
 */
import fc from 'fast-check';
import { DEFAULT_PLANS, LIMIT_NAMES, newId, type PlanLimits, type QuotaErrorCode } from '@qv/contracts';
import { inSqlTransaction } from '@qv/db';
import { useTestDatabase } from '@qv/testing';
import type { ChargedLimits } from './domain/limits';
import type { UsageSnapshot } from './domain/usage';
import { dayWindow, HOUR_MS, monthWindow } from './domain/windows';
import { charge } from './index';
import { callCharge } from './repositories/charge.repository';
import { chargeBody, createUser } from './testing';

/** The reference model: DESIGN.md §2–3 read literally. */
const model = {
  /** Plan limits with the stored overrides applied; 'malformed' where a value is not a safe non-negative integer or null. */
  limits(plan: PlanLimits, overrides: unknown): ChargedLimits | 'malformed' {
    const merged: Record<string, unknown> = { ...plan };
    if (overrides !== null && overrides !== undefined) {
      if (typeof overrides !== 'object' || Array.isArray(overrides)) return 'malformed';
      for (const name of LIMIT_NAMES) {
        if (!(name in overrides)) continue;
        const v = (overrides as Record<string, unknown>)[name];
        if (v !== null && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) return 'malformed';
        merged[name] = v;
      }
    }
    const pick = (name: keyof ChargedLimits) => merged[name] as number | null;
    return { concurrentJobs: pick('concurrentJobs'), callsPerHour: pick('callsPerHour'), enrichmentsPerDay: pick('enrichmentsPerDay'), tokensPerDay: pick('tokensPerDay'), tokensPerMonth: pick('tokensPerMonth') };
  },
  /** The five checks in order: the first failing names the refusal; an hourly one names the call (1 = oldest) that must leave the hour. */
  decide(l: ChargedLimits, u: UsageSnapshot, estimate: number): { ok: true } | { ok: false; code: QuotaErrorCode; freeingCallRank: number | null } {
    if (l.concurrentJobs !== null && u.inFlight >= l.concurrentJobs) return { ok: false, code: 'CONCURRENCY_LIMIT_EXCEEDED', freeingCallRank: null };
    if (l.callsPerHour !== null && u.callsInHour >= l.callsPerHour) return { ok: false, code: 'HOURLY_RATE_LIMIT_EXCEEDED', freeingCallRank: l.callsPerHour > 0 ? u.callsInHour - l.callsPerHour + 1 : null };
    if (l.enrichmentsPerDay !== null && u.enrichmentsToday >= l.enrichmentsPerDay) return { ok: false, code: 'DAILY_QUOTA_EXCEEDED', freeingCallRank: null };
    if (l.tokensPerDay !== null && u.tokensToday + estimate > l.tokensPerDay) return { ok: false, code: 'DAILY_TOKEN_QUOTA_EXCEEDED', freeingCallRank: null };
    if (l.tokensPerMonth !== null && u.tokensThisMonth + estimate > l.tokensPerMonth) return { ok: false, code: 'MONTHLY_TOKEN_QUOTA_EXCEEDED', freeingCallRank: null };
    return { ok: true };
  },
  /** The usage after an accepted charge. */
  afterCharge(u: UsageSnapshot, estimate: number, now: Date, expiresAt: Date): UsageSnapshot {
    const earlier = (a: Date | null, b: Date) => (a && a < b ? a : b);
    return {
      inFlight: u.inFlight + 1,
      earliestExpiry: earlier(u.earliestExpiry, expiresAt),
      callsInHour: u.callsInHour + 1,
      oldestCallAt: earlier(u.oldestCallAt, now),
      enrichmentsToday: u.enrichmentsToday + 1,
      tokensToday: u.tokensToday + estimate,
      tokensThisMonth: u.tokensThisMonth + estimate,
    };
  },
};

const db = useTestDatabase();

const FREE = DEFAULT_PLANS.find((p) => p.id === 'free') as PlanLimits;
// Instants at and around UTC day, month and year ends, where a window mistake would show.
const NOWS = ['2026-06-15T12:00:00.000Z', '2026-06-30T23:59:59.999Z', '2026-07-01T00:00:00.000Z', '2026-12-31T23:59:59.999Z', '2027-01-01T00:00:00.000Z', '2028-02-29T23:30:00.000Z'].map((s) => new Date(s));
const STATUSES = ['RESERVED', 'SETTLED', 'EXPIRED', 'RELEASED'] as const;

const small = (max: number) => fc.option(fc.integer({ min: 0, max }), { nil: null });
/** A limit override: absent (the plan's value), null (unlimited) or a small number. */
const override = (max: number) => fc.option(small(max), { nil: undefined });

const scenario = fc.record({
  now: fc.constantFrom(...NOWS),
  overrides: fc.record({ concurrentJobs: override(4), callsPerHour: override(5), enrichmentsPerDay: override(6), tokensPerDay: override(12), tokensPerMonth: override(16) }),
  // Each earlier call: minutes before now (60 = exactly on the window's edge, out; negative = a
  // replica's clock ahead of ours, in), with an odd millisecond now and then.
  calls: fc.array(fc.record({ minutesAgo: fc.integer({ min: -1, max: 75 }), ms: fc.constantFrom(0, 1, -1), status: fc.constantFrom(...STATUSES) }), { maxLength: 8 }),
  enrichmentsToday: fc.integer({ min: 0, max: 7 }),
  // Small numbers, so that usage lands exactly on a limit (where > and >= differ) often.
  tokensToday: fc.integer({ min: 0, max: 12 }),
  tokensThisMonth: fc.integer({ min: 0, max: 16 }),
  estimate: fc.integer({ min: 0, max: 6 }),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

interface Stored {
  userId: string;
  /** Calls the rolling hour counts, oldest first. */
  callTimes: Date[];
  usage: UsageSnapshot;
}

const slotOf = (t: Date) => new Date(Math.floor(t.getTime() / 10_000) * 10_000);

async function setUp(s: Scenario, exactHour: boolean): Promise<Stored> {
  const overrides = Object.fromEntries(Object.entries(s.overrides).filter(([, v]) => v !== undefined)) as Record<string, number | null>;
  const userId = await createUser(db().query, 'free', overrides);
  const day = dayWindow(s.now);
  const month = monthWindow(s.now);
  const dayBefore = dayWindow(new Date(day.start.getTime() - 1));
  const monthBefore = monthWindow(new Date(month.start.getTime() - 1));
  // Decoys in the neighbouring windows: counting the wrong day or month would change the answer.
  await db().query(
    `INSERT INTO ai_daily_usage (user_id, day, enrichments, tokens) VALUES ($1, $2::date, $3, $4), ($1, $5::date, 1000, 100000), ($1, $6::date, 1000, 100000)`,
    [userId, day.key, s.enrichmentsToday, s.tokensToday, dayBefore.key, dayWindow(day.end).key],
  );
  await db().query(`INSERT INTO ai_monthly_usage (user_id, month, tokens) VALUES ($1, $2::date, $3), ($1, $4::date, 1000000), ($1, $5::date, 1000000)`, [
    userId,
    month.key,
    s.tokensThisMonth,
    monthBefore.key,
    monthWindow(month.end).key,
  ]);
  const at = s.calls.map((c) => new Date(s.now.getTime() - c.minutesAgo * 60_000 + c.ms));
  await db().query(
    `INSERT INTO ai_usage_reservations (id, user_id, item_id, idempotency_key, status, estimated_tokens, day, month, created_at, expires_at)
     SELECT 'rsv_' || md5(random()::text), $1, 'itm_' || md5(random()::text), 'job_' || md5(random()::text), st, 10,
            (t AT TIME ZONE 'UTC')::date, date_trunc('month', t AT TIME ZONE 'UTC')::date, t, t + (interval '10 min') + n * interval '1 ms'
       FROM unnest($2::text[], $3::timestamptz[]) WITH ORDINALITY AS c(st, t, n)`,
    [userId, s.calls.map((c) => c.status), at],
  );
  const hourStart = s.now.getTime() - HOUR_MS;
  // With an unlimited hourly limit the hour is read by whole 10-second slots (030_quota_usage.sql):
  // the window's first slot counts whole.
  const counted = (t: Date) => (exactHour ? t.getTime() > hourStart : t.getTime() >= slotOf(new Date(hourStart)).getTime());
  const callTimes = at.filter((t, i) => s.calls[i].status !== 'RELEASED' && counted(t)).sort((a, b) => a.getTime() - b.getTime());
  const reservedExpiries = at.map((t, i) => ({ t, i })).filter(({ i }) => s.calls[i].status === 'RESERVED').map(({ t, i }) => t.getTime() + 10 * 60_000 + (i + 1));
  const oldest = callTimes[0] ?? null;
  const usage: UsageSnapshot = {
    inFlight: reservedExpiries.length,
    earliestExpiry: reservedExpiries.length ? new Date(Math.min(...reservedExpiries)) : null,
    callsInHour: callTimes.length,
    oldestCallAt: oldest && !exactHour ? slotOf(oldest) : oldest,
    enrichmentsToday: s.enrichmentsToday,
    tokensToday: s.tokensToday,
    tokensThisMonth: s.tokensThisMonth,
  };
  return { userId, callTimes, usage };
}

it('quota_charge reaches the reference model’s decision on the same figures', async () => {
  const seen: Record<string, number> = {};
  await fc.assert(
    fc.asyncProperty(scenario, async (s) => {
      const overrides = Object.fromEntries(Object.entries(s.overrides).filter(([, v]) => v !== undefined));
      const limits = model.limits(FREE, overrides) as ChargedLimits;
      const { userId, callTimes, usage } = await setUp(s, limits.callsPerHour !== null);
      const expected = model.decide(limits, usage, s.estimate);

      const sql = await callCharge(db().sql, { userId, itemId: newId('itm'), idempotencyKey: newId('job'), estimatedTokens: s.estimate, reservationId: newId('rsv'), now: s.now, ttlSeconds: 60 });
      expect(sql.planId).toBe('free');
      expect(sql.limits).toEqual(limits);
      expect(sql.usage).toEqual(expected.ok ? model.afterCharge(usage, s.estimate, s.now, new Date(s.now.getTime() + 60_000)) : usage);
      expect({ outcome: sql.outcome, code: sql.code }).toEqual(expected.ok ? { outcome: 'accepted', code: null } : { outcome: 'refused', code: expected.code });
      if (!expected.ok && expected.code === 'HOURLY_RATE_LIMIT_EXCEEDED') {
        expect(sql.freeingCallAt).toEqual(expected.freeingCallRank === null ? null : callTimes[expected.freeingCallRank - 1]);
      } else {
        expect(sql.freeingCallAt).toBeNull();
      }
      expect(sql.reservation === null).toBe(!expected.ok);
      const key = expected.ok ? 'ACCEPTED' : expected.code;
      seen[key] = (seen[key] ?? 0) + 1;
    }),
    { numRuns: 300 },
  );
  // Every outcome must have been reached, or the comparison proved little.
  expect(Object.keys(seen).sort()).toEqual(['ACCEPTED', 'CONCURRENCY_LIMIT_EXCEEDED', 'DAILY_QUOTA_EXCEEDED', 'DAILY_TOKEN_QUOTA_EXCEEDED', 'HOURLY_RATE_LIMIT_EXCEEDED', 'MONTHLY_TOKEN_QUOTA_EXCEEDED']);
}, 60_000);

it('resolves overrides as the model does, and refuses the same malformed ones', async () => {
  const value = fc.oneof(
    fc.integer({ min: 0, max: 1000 }),
    fc.constantFrom(null, -1, 1.5, 2 ** 53 - 1, 2 ** 53, 1e20, '5', true, [1], { n: 1 }),
  );
  const overrides = fc.oneof(
    fc.dictionary(fc.constantFrom('concurrentJobs', 'callsPerHour', 'enrichmentsPerDay', 'tokensPerDay', 'tokensPerMonth', 'sessionTtlSeconds', 'contentTtlSeconds', 'unknownLimit'), value),
    fc.constantFrom<unknown>(null, [], 'free', 3),
  );
  await fc.assert(
    fc.asyncProperty(overrides, async (o) => {
      const userId = await createUser(db().query, 'free');
      await db().query(`INSERT INTO user_quota_overrides (user_id, limits) VALUES ($1, $2::jsonb)`, [userId, JSON.stringify(o)]);
      const expected = model.limits(FREE, o);
      const sql = await callCharge(db().sql, { userId, itemId: newId('itm'), idempotencyKey: newId('job'), estimatedTokens: 0, reservationId: newId('rsv'), now: NOWS[0], ttlSeconds: 60 }).then(
        (r) => r.limits,
        (err: Error) => (/malformed/.test(err.message) ? ('malformed' as const) : Promise.reject(err)),
      );
      expect(sql).toEqual(expected);
    }),
    { numRuns: 150 },
  );
}, 60_000);

it('charges inside a caller’s transaction and rolls back with it', async () => {
  const userId = await createUser(db().query, 'free');
  const body = chargeBody(userId, 70);
  const now = NOWS[0];
  await expect(
    inSqlTransaction(db().sql, async (tx) => {
      const r = await charge(tx, body, { now, reservationTtlSeconds: 60 });
      expect(r).toMatchObject({ ok: true, replayed: false });
      // The same transaction sees its own charge: a repeat is a replay.
      expect(await charge(tx, body, { now, reservationTtlSeconds: 60 })).toMatchObject({ ok: true, replayed: true });
      throw new Error('item insert failed');
    }),
  ).rejects.toThrow('item insert failed');
  expect(await db().query(`SELECT 1 FROM ai_usage_reservations WHERE user_id = $1`, [userId])).toHaveLength(0);
  expect(await db().query(`SELECT 1 FROM ai_daily_usage WHERE user_id = $1 UNION ALL SELECT 1 FROM ai_monthly_usage WHERE user_id = $1`, [userId])).toHaveLength(0);
  const committed = await inSqlTransaction(db().sql, (tx) => charge(tx, body, { now, reservationTtlSeconds: 60 }));
  expect(committed).toMatchObject({ ok: true, replayed: false, status: { quotas: { tokensPerDay: { used: 70 } } } });
  expect(await db().query(`SELECT tokens::int FROM ai_daily_usage WHERE user_id = $1`, [userId])).toEqual([{ tokens: 70 }]);
});
