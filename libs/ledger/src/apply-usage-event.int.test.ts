import { inSqlTransaction } from '@qv/db';
import { charge, expireStale } from '@qv/quota';
import { useTestDatabase } from '@qv/testing';
import { newId } from '@qv/contracts';
import { applyUsageEvent, InvalidUsageEventError, ReservationNotVisibleError } from './apply-usage-event';
import { reconcile } from './reconciliation';
import { completedEvent, failedEvent, insertUser, reserve, type Charged } from './testing';

const db = useTestDatabase();

const now = () => new Date();

async function state(c: Charged) {
  const [r] = await db().query<{ status: string; actual_tokens: number | null }>(`SELECT status, actual_tokens FROM ai_usage_reservations WHERE id = $1`, [c.reservationId]);
  const [d] = await db().query<{ enrichments: number; tokens: string }>(`SELECT enrichments, tokens::text FROM ai_daily_usage WHERE user_id = $1`, [c.userId]);
  const [m] = await db().query<{ tokens: string }>(`SELECT tokens::text FROM ai_monthly_usage WHERE user_id = $1`, [c.userId]);
  const ledger = await db().query<{ event_id: string; kind: string; charged: boolean; total_tokens: number }>(
    `SELECT event_id, kind, charged, total_tokens FROM ai_usage_ledger WHERE user_id = $1 ORDER BY kind`,
    [c.userId],
  );
  return { status: r.status, actual: r.actual_tokens, enrichments: d.enrichments, dayTokens: Number(d.tokens), monthTokens: Number(m.tokens), ledger };
}

async function expectNoDrift(userId: string) {
  const rows = await reconcile(db().sql, { userId });
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) expect(row.drift).toBe(0);
}

async function newCharge(estimate = 500, at = now(), ttl = 900): Promise<Charged> {
  return reserve(db().sql, await insertUser(db().query), estimate, at, ttl);
}

describe('exactly once', () => {
  it('applies the same completion delivered 5 times in a row once: one entry, one settlement', async () => {
    const c = await newCharge(500);
    const event = completedEvent(c, { prompt: 120, completion: 80 });
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await applyUsageEvent(db().sql, event));
    expect(outcomes).toEqual(['applied', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
    expect(await state(c)).toEqual({
      status: 'SETTLED',
      actual: 200,
      enrichments: 1,
      dayTokens: 200,
      monthTokens: 200,
      ledger: [{ event_id: event.eventId, kind: 'completed', charged: true, total_tokens: 200 }],
    });
    await expectNoDrift(c.userId);
  });

  it('applies the same completion delivered 5 times at once once', async () => {
    for (let round = 0; round < 3; round++) {
      const c = await newCharge(500);
      const event = completedEvent(c, { prompt: 100, completion: 50 });
      const outcomes = await Promise.all(Array.from({ length: 5 }, () => applyUsageEvent(db().sql, event)));
      expect(outcomes.sort()).toEqual(['applied', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
      expect(await state(c)).toEqual({
        status: 'SETTLED',
        actual: 150,
        enrichments: 1,
        dayTokens: 150,
        monthTokens: 150,
        ledger: [{ event_id: event.eventId, kind: 'completed', charged: true, total_tokens: 150 }],
      });
      await expectNoDrift(c.userId);
    }
  });

  it('applies the same failure delivered 5 times at once once: one refund', async () => {
    const user = await insertUser(db().query);
    const kept = await reserve(db().sql, user, 300, now());
    const c = await reserve(db().sql, user, 500, now());
    const event = failedEvent(c);
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => applyUsageEvent(db().sql, event)));
    expect(outcomes.sort()).toEqual(['applied', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
    // Refunded once: only the other reservation's enrichment and estimate remain.
    expect(await state(c)).toMatchObject({ status: 'RELEASED', actual: null, enrichments: 1, dayTokens: 300, monthTokens: 300 });
    expect((await state(c)).ledger).toEqual([{ event_id: event.eventId, kind: 'failed', charged: true, total_tokens: 0 }]);
    expect((await state(kept)).status).toBe('RESERVED');
    await expectNoDrift(user);
  });
});

describe('out of order', () => {
  it('a failure after a completion leaves it SETTLED and is recorded uncharged', async () => {
    const c = await newCharge(500);
    expect(await applyUsageEvent(db().sql, completedEvent(c, { prompt: 90, completion: 10 }))).toBe('applied');
    expect(await applyUsageEvent(db().sql, failedEvent(c))).toBe('applied');
    expect(await state(c)).toEqual({
      status: 'SETTLED',
      actual: 100,
      enrichments: 1,
      dayTokens: 100,
      monthTokens: 100,
      ledger: [
        { event_id: `evt_${c.jobId}_completed`, kind: 'completed', charged: true, total_tokens: 100 },
        { event_id: `evt_${c.jobId}_failed`, kind: 'failed', charged: false, total_tokens: 0 },
      ],
    });
    await expectNoDrift(c.userId);
  });

  it('a completion after a release stays RELEASED: its tokens are recorded, charged to nobody', async () => {
    const c = await newCharge(500);
    expect(await applyUsageEvent(db().sql, failedEvent(c))).toBe('applied');
    expect(await applyUsageEvent(db().sql, completedEvent(c, { prompt: 90, completion: 10 }))).toBe('applied');
    expect(await state(c)).toEqual({
      status: 'RELEASED',
      actual: null,
      enrichments: 0,
      dayTokens: 0,
      monthTokens: 0,
      ledger: [
        { event_id: `evt_${c.jobId}_completed`, kind: 'completed', charged: false, total_tokens: 100 },
        { event_id: `evt_${c.jobId}_failed`, kind: 'failed', charged: true, total_tokens: 0 },
      ],
    });
    await expectNoDrift(c.userId);
  });

  it('a completion and a failure racing for one reservation: exactly one takes effect', async () => {
    for (let round = 0; round < 6; round++) {
      const c = await newCharge(500);
      await Promise.all([applyUsageEvent(db().sql, completedEvent(c, { prompt: 40, completion: 2 })), applyUsageEvent(db().sql, failedEvent(c))]);
      const s = await state(c);
      expect(s.ledger.map((l) => l.charged).sort()).toEqual([false, true]);
      const winner = s.ledger.find((l) => l.charged)!;
      if (winner.kind === 'completed') expect(s).toMatchObject({ status: 'SETTLED', actual: 42, enrichments: 1, dayTokens: 42, monthTokens: 42 });
      else expect(s).toMatchObject({ status: 'RELEASED', actual: null, enrichments: 0, dayTokens: 0, monthTokens: 0 });
      await expectNoDrift(c.userId);
    }
  });

  it('an event arriving before the charge that made its reservation commits is deferred, then applied once', async () => {
    const user = await insertUser(db().query);
    const itemId = newId('itm');
    let commit!: () => void;
    const held = new Promise<void>((r) => (commit = r));
    let reservationId!: string;
    let charged!: () => void;
    const chargedYet = new Promise<void>((r) => (charged = r));
    // The charge's transaction stays open: its reservation exists only for itself.
    const chargeTx = inSqlTransaction(
      db().sql,
      async (tx) => {
        const r = await charge(tx, { v: 1, userId: user, itemId, idempotencyKey: itemId, estimatedTokens: 500 }, { now: now(), reservationTtlSeconds: 900 });
        if (!r.ok) throw new Error('refused');
        reservationId = r.reservation.id;
        charged();
        await held;
      },
    );
    await chargedYet;
    const c: Charged = { reservationId, userId: user, itemId, estimate: 500, jobId: itemId };
    const event = completedEvent(c, { prompt: 70, completion: 30 });
    await expect(applyUsageEvent(db().sql, event)).rejects.toBeInstanceOf(ReservationNotVisibleError);
    expect(await db().query(`SELECT 1 FROM ai_usage_ledger WHERE event_id = $1`, [event.eventId])).toHaveLength(0);
    commit();
    await chargeTx;
    // The consumer's retry, after the charge committed.
    expect(await applyUsageEvent(db().sql, event)).toBe('applied');
    expect(await state(c)).toMatchObject({ status: 'SETTLED', actual: 100, enrichments: 1, dayTokens: 100, monthTokens: 100 });
    await expectNoDrift(user);
  });

  it('a settlement racing a replay of its charge (the api-service retrying a lost answer) counts the tokens once', async () => {
    for (let round = 0; round < 5; round++) {
      const user = await insertUser(db().query);
      const itemId = newId('itm');
      const request = { v: 1 as const, userId: user, itemId, idempotencyKey: itemId, estimatedTokens: 500 };
      const first = await charge(db().sql, request, { now: now(), reservationTtlSeconds: 900 });
      if (!first.ok) throw new Error('refused');
      const c: Charged = { reservationId: first.reservation.id, userId: user, itemId, estimate: 500, jobId: itemId };
      const [replay, outcome] = await Promise.all([
        charge(db().sql, request, { now: now(), reservationTtlSeconds: 900 }),
        applyUsageEvent(db().sql, completedEvent(c, { prompt: 60, completion: 1 })),
      ]);
      expect(replay).toMatchObject({ ok: true, replayed: true, reservation: { id: c.reservationId } });
      expect(outcome).toBe('applied');
      expect(await state(c)).toMatchObject({ status: 'SETTLED', actual: 61, enrichments: 1, dayTokens: 61, monthTokens: 61 });
      expect(await db().query(`SELECT 1 FROM ai_usage_reservations WHERE user_id = $1`, [user])).toHaveLength(1);
      await expectNoDrift(user);
    }
  });

  it('a completion for an EXPIRED reservation settles it to the actual tokens', async () => {
    const t0 = now();
    const c = await newCharge(500, t0, 60);
    expect(await expireStale(db().sql, new Date(t0.getTime() + 61_000))).toBeGreaterThanOrEqual(1);
    expect((await state(c)).status).toBe('EXPIRED');
    // Expired keeps the estimate charged (fail closed) and reconciles as reserved.
    expect(await state(c)).toMatchObject({ dayTokens: 500, enrichments: 1 });
    await expectNoDrift(c.userId);
    expect(await applyUsageEvent(db().sql, completedEvent(c, { prompt: 200, completion: 33 }), new Date(t0.getTime() + 62_000))).toBe('applied');
    expect(await state(c)).toMatchObject({ status: 'SETTLED', actual: 233, enrichments: 1, dayTokens: 233, monthTokens: 233 });
    await expectNoDrift(c.userId);
  });

  it('a failure for an EXPIRED reservation refunds it', async () => {
    const t0 = now();
    const c = await newCharge(500, t0, 60);
    await expireStale(db().sql, new Date(t0.getTime() + 61_000));
    expect(await applyUsageEvent(db().sql, failedEvent(c), new Date(t0.getTime() + 62_000))).toBe('applied');
    expect(await state(c)).toMatchObject({ status: 'RELEASED', enrichments: 0, dayTokens: 0, monthTokens: 0 });
    await expectNoDrift(c.userId);
  });
});

describe('what gets recorded', () => {
  it('an uncharged dead-letter replay is recorded with its tokens and charges nothing', async () => {
    const c = await newCharge(500);
    const replayJob = newId('job');
    const event = completedEvent({ ...c, reservationId: '', jobId: replayJob }, { prompt: 300, completion: 20 }, { reservationId: null, charged: false });
    expect(await applyUsageEvent(db().sql, event)).toBe('applied');
    const s = await state(c);
    expect(s).toMatchObject({ status: 'RESERVED', enrichments: 1, dayTokens: 500, monthTokens: 500 });
    expect(s.ledger).toEqual([{ event_id: event.eventId, kind: 'completed', charged: false, total_tokens: 320 }]);
    await expectNoDrift(c.userId);
  });

  it('a failure whose work still cost tokens gives the enrichment back and keeps those tokens, once', async () => {
    const user = await insertUser(db().query);
    const kept = await reserve(db().sql, user, 300, now());
    const c = await reserve(db().sql, user, 500, now());
    const event = failedEvent(c, { spent: { model: 'sim-1', promptTokens: 120, completionTokens: 30, costUsd: 0.0001 } });
    const outcomes = await Promise.all(Array.from({ length: 3 }, () => applyUsageEvent(db().sql, event)));
    expect(outcomes.sort()).toEqual(['applied', 'duplicate', 'duplicate']);
    // The other reservation's estimate plus the 150 tokens the failed work cost; its enrichment refunded.
    expect(await state(c)).toMatchObject({ status: 'RELEASED', actual: 150, enrichments: 1, dayTokens: 450, monthTokens: 450 });
    expect((await state(c)).ledger).toEqual([{ event_id: event.eventId, kind: 'failed', charged: true, total_tokens: 150 }]);
    expect((await state(kept)).status).toBe('RESERVED');
    await expectNoDrift(user);
  });

  it('a cache hit settles to 0 tokens and records what it saved', async () => {
    const c = await newCharge(500);
    const event = completedEvent(c, { prompt: 0, completion: 0 }, { costUsd: 0, cache: { tier: 'content', hit: true, tokensSaved: 410, costSavedUsd: 0.00123 } });
    expect(await applyUsageEvent(db().sql, event)).toBe('applied');
    expect(await state(c)).toMatchObject({ status: 'SETTLED', actual: 0, enrichments: 1, dayTokens: 0 });
    const [row] = await db().query<{ cache_tier: string; cache_hit: boolean; tokens_saved: number; cost_saved_usd: string; cost_usd: string }>(
      `SELECT cache_tier, cache_hit, tokens_saved, cost_saved_usd::text, cost_usd::text FROM ai_usage_ledger WHERE event_id = $1`,
      [event.eventId],
    );
    expect(row).toEqual({ cache_tier: 'content', cache_hit: true, tokens_saved: 410, cost_saved_usd: '0.00123000', cost_usd: '0.00000000' });
    await expectNoDrift(c.userId);
  });

  it('stores cost, model and the reservation day', async () => {
    const c = await newCharge(500);
    const event = completedEvent(c, { prompt: 1000, completion: 250 }, { model: 'gpt-4o-mini', costUsd: 0.0003 });
    await applyUsageEvent(db().sql, event);
    const [row] = await db().query<{ model: string; cost_usd: string; prompt_tokens: number; completion_tokens: number; day: string; reservation_id: string }>(
      `SELECT model, cost_usd::text, prompt_tokens, completion_tokens, day::text, reservation_id FROM ai_usage_ledger WHERE event_id = $1`,
      [event.eventId],
    );
    const [r] = await db().query<{ day: string }>(`SELECT day::text FROM ai_usage_reservations WHERE id = $1`, [c.reservationId]);
    expect(row).toEqual({ model: 'gpt-4o-mini', cost_usd: '0.00030000', prompt_tokens: 1000, completion_tokens: 250, day: r.day, reservation_id: c.reservationId });
  });

  it("refuses an event naming another user's reservation and writes nothing", async () => {
    const c = await newCharge(500);
    const other = await insertUser(db().query);
    const event = completedEvent({ ...c, userId: other }, { prompt: 1, completion: 1 });
    await expect(applyUsageEvent(db().sql, event)).rejects.toBeInstanceOf(InvalidUsageEventError);
    expect(await state(c)).toMatchObject({ status: 'RESERVED', dayTokens: 500, ledger: [] });
  });
});
