import { newId, NotFoundError } from '@qv/contracts';
import { inSqlTransaction } from '@qv/db';
import { useTestDatabase } from '@qv/testing';
import { charge, expireStale, quotaStatus, release, settle, voidOrphans, type ChargeResult } from './index';
import { findOrphans } from './repositories/quota.repository';
import { chargeBody, createUser, LIMIT_SCENARIOS } from './testing';

const db = useTestDatabase();
const TTL = 900;
const NOW = new Date('2026-06-15T12:00:00.000Z');
const plus = (ms: number, from = NOW) => new Date(from.getTime() + ms);
const MIN = 60_000;

const accepted = (r: ChargeResult) => {
  if (!r.ok) throw new Error(`expected a charge, got ${r.code}`);
  return r;
};
const refused = (r: ChargeResult) => {
  if (r.ok) throw new Error('expected a refusal');
  return r;
};

async function counters(userId: string, now = NOW) {
  const [d] = await db().query<{ enrichments: number; tokens: string }>(`SELECT enrichments, tokens::text FROM ai_daily_usage WHERE user_id = $1 AND day = $2::date`, [userId, now.toISOString().slice(0, 10)]);
  const [m] = await db().query<{ tokens: string }>(`SELECT tokens::text FROM ai_monthly_usage WHERE user_id = $1 AND month = date_trunc('month', $2::timestamptz AT TIME ZONE 'UTC')::date`, [userId, now.toISOString()]);
  return { enrichments: d?.enrichments ?? 0, dayTokens: Number(d?.tokens ?? 0), monthTokens: Number(m?.tokens ?? 0) };
}

async function statuses(userId: string): Promise<Record<string, string>> {
  const rows = await db().query<{ id: string; status: string }>(`SELECT id, status FROM ai_usage_reservations WHERE user_id = $1`, [userId]);
  return Object.fromEntries(rows.map((r) => [r.id, r.status]));
}

describe('charge', () => {
  it('creates a RESERVED reservation, moves the day and month counters and reports the new status', async () => {
    const userId = await createUser(db().query, 'free');
    const r = accepted(await charge(db().sql, chargeBody(userId, 120), { now: NOW, reservationTtlSeconds: TTL }));
    expect(r.replayed).toBe(false);
    expect(r.reservation).toMatchObject({ userId, status: 'RESERVED', estimatedTokens: 120, actualTokens: null, createdAt: NOW.toISOString(), expiresAt: plus(TTL * 1000).toISOString() });
    expect(r.reservation.id).toMatch(/^rsv_/);
    expect(await counters(userId)).toEqual({ enrichments: 1, dayTokens: 120, monthTokens: 120 });
    expect(r.status.quotas.concurrentJobs).toMatchObject({ used: 1, limit: 3, remaining: 2 });
    expect(r.status.quotas.tokensPerDay).toMatchObject({ used: 120, limit: 10_000, remaining: 9880 });
    expect(await quotaStatus(db().sql, userId, NOW)).toEqual(r.status);
  });

  it('throws NOT_FOUND for an unknown user and stores nothing', async () => {
    await expect(charge(db().sql, chargeBody('usr_nobody', 1), { now: NOW, reservationTtlSeconds: TTL })).rejects.toBeInstanceOf(NotFoundError);
    expect(await db().query(`SELECT 1 FROM ai_usage_reservations WHERE user_id = 'usr_nobody'`)).toHaveLength(0);
  });

  it('the same key charged 20 times at once makes one reservation and one charge', async () => {
    const userId = await createUser(db().query, 'free');
    const body = chargeBody(userId, 100);
    const results = await Promise.all(Array.from({ length: 20 }, () => charge(db().sql, body, { now: NOW, reservationTtlSeconds: TTL })));
    const ids = new Set(results.map((r) => accepted(r).reservation.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.ok && r.replayed)).toHaveLength(19);
    expect(await db().query(`SELECT id FROM ai_usage_reservations WHERE user_id = $1`, [userId])).toEqual([{ id: [...ids][0] }]);
    expect(await counters(userId)).toEqual({ enrichments: 1, dayTokens: 100, monthTokens: 100 });
  });

  it('refuses a key already used for another item or user', async () => {
    const userId = await createUser(db().query, 'free');
    const body = chargeBody(userId, 1);
    accepted(await charge(db().sql, body, { now: NOW, reservationTtlSeconds: TTL }));
    await expect(charge(db().sql, { ...body, itemId: newId('itm') }, { now: NOW, reservationTtlSeconds: TTL })).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    const other = await createUser(db().query, 'free');
    await expect(charge(db().sql, { ...body, userId: other }, { now: NOW, reservationTtlSeconds: TTL })).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await counters(other)).toEqual({ enrichments: 0, dayTokens: 0, monthTokens: 0 });
  });

  it('a refused charge does not use its key up', async () => {
    const userId = await createUser(db().query, 'free', { concurrentJobs: 1 });
    const first = accepted(await charge(db().sql, chargeBody(userId, 1), { now: NOW, reservationTtlSeconds: TTL }));
    const body = chargeBody(userId, 1);
    expect(refused(await charge(db().sql, body, { now: NOW, reservationTtlSeconds: TTL })).code).toBe('CONCURRENCY_LIMIT_EXCEEDED');
    await settle(db().sql, first.reservation.id, 1, NOW);
    expect(accepted(await charge(db().sql, body, { now: NOW, reservationTtlSeconds: TTL })).replayed).toBe(false);
  });

  it('Retry-After is the real time until each limit frees', async () => {
    const at = new Date('2026-06-30T21:30:00.000Z');
    const opts = { now: at, reservationTtlSeconds: TTL };
    const conc = await createUser(db().query, 'free', { concurrentJobs: 0 });
    expect(refused(await charge(db().sql, chargeBody(conc, 1), opts))).toMatchObject({ code: 'CONCURRENCY_LIMIT_EXCEEDED', retryAfterSeconds: 2 });
    const daily = await createUser(db().query, 'free', { enrichmentsPerDay: 0 });
    expect(refused(await charge(db().sql, chargeBody(daily, 1), opts))).toMatchObject({ code: 'DAILY_QUOTA_EXCEEDED', retryAfterSeconds: 2.5 * 3600 });
    const dayTokens = await createUser(db().query, 'free');
    expect(refused(await charge(db().sql, chargeBody(dayTokens, 10_001), opts))).toMatchObject({ code: 'DAILY_TOKEN_QUOTA_EXCEEDED', retryAfterSeconds: 2.5 * 3600 });
    const monthTokens = await createUser(db().query, 'free', { tokensPerDay: null, tokensPerMonth: 5 });
    const r = refused(await charge(db().sql, chargeBody(monthTokens, 6), { now: new Date('2026-06-15T00:00:00.000Z'), reservationTtlSeconds: TTL }));
    expect(r).toMatchObject({ code: 'MONTHLY_TOKEN_QUOTA_EXCEEDED', retryAfterSeconds: 16 * 86400 });
    expect(r.status.quotas.tokensPerMonth).toMatchObject({ used: 0, limit: 5, remaining: 5, resetAt: '2026-07-01T00:00:00.000Z' });
  });
});

describe('the rolling hour', () => {
  it('counts calls of the last 60 minutes only, frees when the oldest leaves, and not RELEASED ones', async () => {
    const userId = await createUser(db().query, 'free', { callsPerHour: 3, concurrentJobs: null });
    const t0 = NOW;
    const go = (now: Date) => charge(db().sql, chargeBody(userId, 1), { now, reservationTtlSeconds: TTL });
    const first = accepted(await go(t0));
    accepted(await go(plus(10 * MIN)));
    const third = accepted(await go(plus(20 * MIN)));
    const r = refused(await go(plus(30 * MIN)));
    expect(r).toMatchObject({ code: 'HOURLY_RATE_LIMIT_EXCEEDED', retryAfterSeconds: 30 * 60 });
    expect(r.status.quotas.callsPerHour).toMatchObject({ used: 3, remaining: 0, resetAt: plus(60 * MIN).toISOString(), level: 'exceeded' });
    // Settling or expiring keeps the call counted: it happened.
    await settle(db().sql, first.reservation.id, 1, plus(31 * MIN));
    expect(refused(await go(plus(60 * MIN - 1))).retryAfterSeconds).toBe(1);
    // At exactly t0 + 60 min the first call is out of (now − 60 min, now].
    const fourth = accepted(await go(plus(60 * MIN)));
    expect(refused(await go(plus(65 * MIN)))).toMatchObject({ retryAfterSeconds: 5 * 60 });
    // A release refunds the call.
    await release(db().sql, third.reservation.id, plus(66 * MIN));
    accepted(await go(plus(66 * MIN)));
    expect(fourth.status.quotas.callsPerHour.used).toBe(3);
  });

  it('with the limit lowered below use, waits for the call that brings use under it', async () => {
    const userId = await createUser(db().query, 'free', { callsPerHour: 5, concurrentJobs: null });
    for (let i = 0; i < 5; i++) accepted(await charge(db().sql, chargeBody(userId, 1), { now: plus(i * MIN), reservationTtlSeconds: TTL }));
    await db().query(`UPDATE user_quota_overrides SET limits = '{"callsPerHour": 3, "concurrentJobs": null}' WHERE user_id = $1`, [userId]);
    // 5 counted, limit 3: the 3rd oldest (t0 + 2 min) must leave; at t0 + 10 min that is 52 min away.
    expect(refused(await charge(db().sql, chargeBody(userId, 1), { now: plus(10 * MIN), reservationTtlSeconds: TTL })).retryAfterSeconds).toBe(52 * 60);
  });
});

describe('settle, release, expiry', () => {
  async function reserved(estimate = 100, userId?: string) {
    const uid = userId ?? (await createUser(db().query, 'free'));
    const r = accepted(await charge(db().sql, chargeBody(uid, estimate), { now: NOW, reservationTtlSeconds: TTL }));
    return { userId: uid, id: r.reservation.id };
  }

  it('settle replaces the estimate by the actual count, frees the slot, and happens once', async () => {
    const { userId, id } = await reserved(100);
    const first = await settle(db().sql, id, 70, plus(MIN));
    expect(first).toMatchObject({ changed: true, reservation: { status: 'SETTLED', actualTokens: 70, estimatedTokens: 100 } });
    expect(await counters(userId)).toEqual({ enrichments: 1, dayTokens: 70, monthTokens: 70 });
    const again = await settle(db().sql, id, 90, plus(2 * MIN));
    expect(again).toMatchObject({ changed: false, reservation: { status: 'SETTLED', actualTokens: 70 } });
    expect(await counters(userId)).toEqual({ enrichments: 1, dayTokens: 70, monthTokens: 70 });
    expect((await quotaStatus(db().sql, userId, plus(3 * MIN))).quotas.concurrentJobs.used).toBe(0);
    expect(await release(db().sql, id, plus(3 * MIN))).toMatchObject({ changed: false, reservation: { status: 'SETTLED' } });
    expect(await counters(userId)).toEqual({ enrichments: 1, dayTokens: 70, monthTokens: 70 });
  });

  it('settles into the reservation’s own day even after midnight', async () => {
    const userId = await createUser(db().query, 'free');
    const late = new Date('2026-06-15T23:59:59.000Z');
    const r = accepted(await charge(db().sql, chargeBody(userId, 100), { now: late, reservationTtlSeconds: TTL }));
    await settle(db().sql, r.reservation.id, 40, new Date('2026-06-16T00:05:00.000Z'));
    expect(await counters(userId, late)).toEqual({ enrichments: 1, dayTokens: 40, monthTokens: 40 });
    expect(await db().query(`SELECT 1 FROM ai_daily_usage WHERE user_id = $1 AND day = '2026-06-16'`, [userId])).toHaveLength(0);
  });

  it('release refunds the enrichment, the call and the tokens, once; a settle after it changes nothing', async () => {
    const { userId, id } = await reserved(100);
    await reserved(30, userId);
    expect(await release(db().sql, id, plus(MIN))).toMatchObject({ changed: true, reservation: { status: 'RELEASED' } });
    expect(await counters(userId)).toEqual({ enrichments: 1, dayTokens: 30, monthTokens: 30 });
    expect((await release(db().sql, id, plus(2 * MIN))).changed).toBe(false);
    expect((await settle(db().sql, id, 50, plus(2 * MIN))).changed).toBe(false);
    expect(await counters(userId)).toEqual({ enrichments: 1, dayTokens: 30, monthTokens: 30 });
    const status = await quotaStatus(db().sql, userId, plus(3 * MIN));
    expect(status.quotas.callsPerHour.used).toBe(1);
    expect(status.quotas.concurrentJobs.used).toBe(1);
  });

  it('unknown reservation ids are NOT_FOUND', async () => {
    await expect(settle(db().sql, 'rsv_missing', 1, NOW)).rejects.toBeInstanceOf(NotFoundError);
    await expect(release(db().sql, 'rsv_missing', NOW)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('expiry frees the slot of reservations past their TTL and keeps their estimate; late settle and release still work', async () => {
    const userId = await createUser(db().query, 'free');
    const a = await reserved(100, userId);
    const b = await reserved(200, userId);
    const c = await reserved(300, userId);
    // Not yet: expires_at is NOW + TTL.
    const before = await expireStale(db().sql, plus(TTL * 1000 - 1));
    const statusBefore = await quotaStatus(db().sql, userId, plus(TTL * 1000 - 1));
    expect(statusBefore.quotas.concurrentJobs.used).toBe(3);
    await settle(db().sql, c.id, 10, plus(MIN));
    // The sweep is global: other tests' reservations of NOW are due too, so count them first.
    const [{ due }] = await db().query<{ due: number }>(`SELECT count(*)::int AS due FROM ai_usage_reservations WHERE status = 'RESERVED' AND expires_at <= $1`, [plus(TTL * 1000)]);
    expect(due).toBeGreaterThanOrEqual(2);
    expect(await expireStale(db().sql, plus(TTL * 1000))).toBe(due);
    expect(before).toBe(0);
    expect(await statuses(userId)).toEqual({ [a.id]: 'EXPIRED', [b.id]: 'EXPIRED', [c.id]: 'SETTLED' });
    expect(await counters(userId)).toEqual({ enrichments: 3, dayTokens: 310, monthTokens: 310 });
    expect((await quotaStatus(db().sql, userId, plus(TTL * 1000))).quotas.concurrentJobs.used).toBe(0);
    expect(await expireStale(db().sql, plus(TTL * 1000))).toBe(0);
    expect(await settle(db().sql, a.id, 60, plus(TTL * 1000 + 1))).toMatchObject({ changed: true, reservation: { status: 'SETTLED', actualTokens: 60 } });
    expect(await release(db().sql, b.id, plus(TTL * 1000 + 1))).toMatchObject({ changed: true, reservation: { status: 'RELEASED' } });
    expect(await counters(userId)).toEqual({ enrichments: 2, dayTokens: 70, monthTokens: 70 });
  });

  it('voids reservations whose item was never stored, after the grace only', async () => {
    // A time of its own, so earlier tests' item-less reservations (created at NOW) are voided by
    // the first sweep and the ones here can be told apart by the grace.
    const t = plus(86_400_000);
    const userId = await createUser(db().query, 'pro_monthly');
    const go = async (estimate: number) => accepted(await charge(db().sql, chargeBody(userId, estimate), { now: t, reservationTtlSeconds: TTL })).reservation;
    const orphan = await go(100);
    const stored = await go(50);
    // A synchronous chat call's reservation has no item row, ever: it is not an orphan.
    const call = accepted(await charge(db().sql, { ...chargeBody(userId, 30), itemId: newId('chc') }, { now: t, reservationTtlSeconds: TTL })).reservation;
    await db().query(`INSERT INTO items (id, user_id, content) VALUES ($1, $2, 'x')`, [stored.itemId, userId]);
    // The earlier tests' orphans, by the sweeper's own rule.
    const older = (await findOrphans(db().sql, t, 100_000)).length;
    expect(await voidOrphans(db().sql, plus(59_000, t), 60)).toBe(older);
    expect(await statuses(userId)).toEqual({ [orphan.id]: 'RESERVED', [stored.id]: 'RESERVED', [call.id]: 'RESERVED' });
    expect(await voidOrphans(db().sql, plus(61_000, t), 60)).toBe(1);
    expect(await statuses(userId)).toEqual({ [orphan.id]: 'RELEASED', [stored.id]: 'RESERVED', [call.id]: 'RESERVED' });
    expect(await counters(userId, t)).toEqual({ enrichments: 2, dayTokens: 80, monthTokens: 80 });
    expect(await voidOrphans(db().sql, plus(120_000, t), 60)).toBe(0);
  });

  it("voids a dead-letter replay's charge whose replay never claimed the item, not a failed item's own", async () => {
    const t = plus(2 * 86_400_000);
    const userId = await createUser(db().query, 'pro_monthly');
    const failedAt = (itemId: string, at: Date) =>
      db().query(`INSERT INTO items (id, user_id, content, status, updated_at) VALUES ($1, $2, 'x', 'FAILED', $3)`, [itemId, userId, at]);
    // The replay's charge came after the item had failed (its answer timed out at api-service, so
    // the item was never claimed): nothing will settle or release it.
    const replayed = accepted(await charge(db().sql, chargeBody(userId, 100), { now: t, reservationTtlSeconds: TTL })).reservation;
    await failedAt(replayed.itemId, plus(-5_000, t));
    // An item charged, then failed: its failure's usage event (perhaps still queued) releases it.
    const failing = accepted(await charge(db().sql, chargeBody(userId, 50), { now: t, reservationTtlSeconds: TTL })).reservation;
    await failedAt(failing.itemId, plus(5_000, t));
    await voidOrphans(db().sql, plus(59_000, t), 60); // the earlier tests' item-less reservations
    expect(await statuses(userId)).toEqual({ [replayed.id]: 'RESERVED', [failing.id]: 'RESERVED' });
    expect(await voidOrphans(db().sql, plus(61_000, t), 60)).toBe(1);
    expect(await statuses(userId)).toEqual({ [replayed.id]: 'RELEASED', [failing.id]: 'RESERVED' });
  });

  it('settle and release join a caller’s transaction and roll back with it', async () => {
    const { userId, id } = await reserved(100);
    await expect(
      inSqlTransaction(db().sql, async (tx) => {
        await settle(tx, id, 10, plus(MIN));
        throw new Error('ledger write failed');
      }),
    ).rejects.toThrow('ledger write failed');
    expect(await counters(userId)).toEqual({ enrichments: 1, dayTokens: 100, monthTokens: 100 });
    await inSqlTransaction(db().sql, async (tx) => {
      await settle(tx, id, 10, plus(MIN));
    });
    expect(await counters(userId)).toEqual({ enrichments: 1, dayTokens: 10, monthTokens: 10 });
  });
});

describe('500 concurrent charges against 20 remaining', () => {
  it.each(LIMIT_SCENARIOS.map((s) => [s.code, s] as const))('%s: exactly 20 accepted', async (code, scenario) => {
    const userId = await scenario.setUp(db().query, NOW);
    const before = await counters(userId);
    const results = await Promise.all(
      Array.from({ length: 500 }, () => charge(db().sql, chargeBody(userId, scenario.estimate), { now: NOW, reservationTtlSeconds: TTL })),
    );
    expect(results.filter((r) => r.ok).length).toBe(20);
    const codes = results.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.code));
    expect(codes).toHaveLength(480);
    expect(new Set(codes)).toEqual(new Set([code]));
    const [{ n }] = await db().query<{ n: number }>(`SELECT count(*)::int AS n FROM ai_usage_reservations WHERE user_id = $1`, [userId]);
    expect(n).toBe(20);
    expect(await counters(userId)).toEqual({
      enrichments: before.enrichments + 20,
      dayTokens: before.dayTokens + 20 * scenario.estimate,
      monthTokens: before.monthTokens + 20 * scenario.estimate,
    });
  });
});
