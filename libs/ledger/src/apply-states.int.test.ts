import { newId } from '@qv/contracts';
import { inSqlTransaction } from '@qv/db';
import { expireStale, release, settle } from '@qv/quota';
import { useTestDatabase } from '@qv/testing';
import { APPLY_SQL, applyParams, applyUsageEvent } from './apply-usage-event';
import { completedEvent, failedEvent, insertUser, reserve, type Charged } from './testing';

/*
 * An event applied from every state a reservation can be in: the entry's `charged` flag must say
 * whether the event finished the reservation, and the reservation and counters must end as a direct
 * settle()/release() of a twin leaves them (the event may not finish what is already finished, nor
 * miss what is not). It also covers what the one statement has to get right on its own: the
 * node-postgres path, joining a caller's transaction, and a conflict on the idempotency key
 * changing nothing.
 */

const db = useTestDatabase();

// A fixed past clock near a month end, so the day and month rows are the reservation's, not today's.
const T0 = Date.parse('2026-01-31T23:58:00.000Z');
const TTL_S = 60;

type Start = 'RESERVED' | 'EXPIRED' | 'SETTLED' | 'RELEASED';
type Finish = { kind: 'completed'; actual: number; label: string } | { kind: 'failed'; label: string };

interface Snapshot {
  status: string;
  actual: number | null;
  finishedAt: string | null;
  day: string;
  counters: Array<{ day: string; enrichments: number; tokens: string }>;
  months: Array<{ month: string; tokens: string }>;
}

async function snapshot(c: Charged): Promise<Snapshot> {
  const [r] = await db().query<{ status: string; actual_tokens: number | null; finished_at: Date | null; day: string }>(
    `SELECT status, actual_tokens, finished_at, day::text FROM ai_usage_reservations WHERE id = $1`,
    [c.reservationId],
  );
  const counters = await db().query<{ day: string; enrichments: number; tokens: string }>(`SELECT day::text, enrichments, tokens::text FROM ai_daily_usage WHERE user_id = $1 ORDER BY day`, [c.userId]);
  const months = await db().query<{ month: string; tokens: string }>(`SELECT month::text, tokens::text FROM ai_monthly_usage WHERE user_id = $1 ORDER BY month`, [c.userId]);
  return { status: r.status, actual: r.actual_tokens, finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null, day: r.day, counters, months };
}

/** A user with a decoy reservation the day before (other day and month rows) and `c` in the state `start`. */
async function prepare(estimate: number, start: Start): Promise<Charged> {
  const user = await insertUser(db().query);
  await reserve(db().sql, user, 777, new Date(T0 - 86_400_000), 3600);
  const c = await reserve(db().sql, user, estimate, new Date(T0), TTL_S);
  const before = new Date(T0 + 10_000);
  if (start === 'EXPIRED') await expireStale(db().sql, new Date(T0 + (TTL_S + 1) * 1000));
  if (start === 'SETTLED') await settle(db().sql, c.reservationId, 321, before);
  if (start === 'RELEASED') await release(db().sql, c.reservationId, before);
  return c;
}

const starts: Start[] = ['RESERVED', 'EXPIRED', 'SETTLED', 'RELEASED'];
const finishes: Finish[] = [
  { kind: 'completed', actual: 0, label: 'completed with 0 tokens' },
  { kind: 'completed', actual: 400, label: 'completed under the estimate' },
  { kind: 'completed', actual: 500, label: 'completed at the estimate' },
  { kind: 'completed', actual: 1900, label: 'completed over the estimate' },
  { kind: 'failed', label: 'failed' },
];

describe('from every state of its reservation', () => {
  const cases = starts.flatMap((start) => finishes.map((finish) => ({ start, finish })));
  it.each(cases)('$start, then $finish.label: identical reservation and counters, charged = changed', async ({ start, finish }) => {
    const estimate = 500;
    const at = new Date(T0 + 120_000);
    const viaQuota = await prepare(estimate, start);
    const viaLedger = await prepare(estimate, start);
    const change = finish.kind === 'completed' ? await settle(db().sql, viaQuota.reservationId, finish.actual, at) : await release(db().sql, viaQuota.reservationId, at);
    const event = finish.kind === 'completed' ? completedEvent(viaLedger, { prompt: finish.actual, completion: 0 }) : failedEvent(viaLedger);
    expect(await applyUsageEvent(db().sql, event, at)).toBe('applied');

    const [entry] = await db().query<{ charged: boolean; day: string }>(`SELECT charged, day::text FROM ai_usage_ledger WHERE event_id = $1`, [event.eventId]);
    expect(entry.charged).toBe(change.changed);
    expect(change.changed).toBe(start === 'RESERVED' || start === 'EXPIRED');
    const a = await snapshot(viaQuota);
    const b = await snapshot(viaLedger);
    expect(b).toEqual(a);
    expect(entry.day).toBe(a.day);
    expect(a.counters).toHaveLength(2);
  });
});

describe('the one statement', () => {
  it('on a node-postgres Pool: 5 concurrent deliveries, one entry, one settlement', async () => {
    const c = await reserve(db().sql, await insertUser(db().query), 500, new Date());
    const event = completedEvent(c, { prompt: 100, completion: 20 });
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => applyUsageEvent(db().sql, event)));
    expect(outcomes.sort()).toEqual(['applied', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
    const [r] = await db().query<{ status: string; actual_tokens: number }>(`SELECT status, actual_tokens FROM ai_usage_reservations WHERE id = $1`, [c.reservationId]);
    const [d] = await db().query<{ tokens: string }>(`SELECT tokens::text FROM ai_daily_usage WHERE user_id = $1`, [c.userId]);
    expect({ ...r, tokens: d.tokens }).toEqual({ status: 'SETTLED', actual_tokens: 120, tokens: '120' });
    expect(await db().query(`SELECT 1 FROM ai_usage_ledger WHERE event_id = $1`, [event.eventId])).toHaveLength(1);
  });

  it('uncharged events delivered 5 times at once (no reservation lock to queue on): one entry', async () => {
    const c = await reserve(db().sql, await insertUser(db().query), 500, new Date());
    const event = completedEvent({ ...c, jobId: newId('job') }, { prompt: 10, completion: 1 }, { reservationId: null, charged: false });
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => applyUsageEvent(db().sql, event)));
    expect(outcomes.sort()).toEqual(['applied', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
    expect(await db().query(`SELECT 1 FROM ai_usage_ledger WHERE user_id = $1`, [c.userId])).toHaveLength(1);
  });

  it('an event whose idempotency key is already in the ledger under another event id changes nothing', async () => {
    const user = await insertUser(db().query);
    const first = await reserve(db().sql, user, 500, new Date());
    const second = await reserve(db().sql, user, 300, new Date());
    const recorded = completedEvent(first, { prompt: 50, completion: 0 });
    expect(await applyUsageEvent(db().sql, recorded)).toBe('applied');
    // Same user and idempotency key, new event id, a reservation that could still settle.
    const clash = completedEvent(second, { prompt: 90, completion: 0 }, { idempotencyKey: recorded.idempotencyKey });
    expect(await applyUsageEvent(db().sql, clash)).toBe('duplicate');
    const [r] = await db().query<{ status: string }>(`SELECT status FROM ai_usage_reservations WHERE id = $1`, [second.reservationId]);
    const [d] = await db().query<{ tokens: string }>(`SELECT tokens::text FROM ai_daily_usage WHERE user_id = $1`, [user]);
    expect({ status: r.status, tokens: d.tokens }).toEqual({ status: 'RESERVED', tokens: '350' });
  });

  it("joins the caller's transaction and rolls back with it", async () => {
    const c = await reserve(db().sql, await insertUser(db().query), 500, new Date());
    const event = completedEvent(c, { prompt: 70, completion: 0 });
    await expect(
      inSqlTransaction(db().sql, async (tx) => {
        expect(await applyUsageEvent(tx, event)).toBe('applied');
        expect(await applyUsageEvent(tx, event)).toBe('duplicate');
        throw new Error('caller gives up');
      }),
    ).rejects.toThrow('caller gives up');
    const [r] = await db().query<{ status: string }>(`SELECT status FROM ai_usage_reservations WHERE id = $1`, [c.reservationId]);
    expect(r.status).toBe('RESERVED');
    expect(await db().query(`SELECT 1 FROM ai_usage_ledger WHERE event_id = $1`, [event.eventId])).toHaveLength(0);
    expect(await applyUsageEvent(db().sql, event)).toBe('applied');
  });

  it('APPLY_SQL answers not_visible and invalid without writing', async () => {
    const c = await reserve(db().sql, await insertUser(db().query), 500, new Date());
    const missing = completedEvent({ ...c, reservationId: newId('rsv') }, { prompt: 1, completion: 1 });
    const foreign = completedEvent({ ...c, userId: await insertUser(db().query) }, { prompt: 1, completion: 1 });
    expect((await db().sql.query(APPLY_SQL, applyParams(missing, new Date()))).rows).toEqual([{ outcome: 'not_visible' }]);
    expect((await db().sql.query(APPLY_SQL, applyParams(foreign, new Date()))).rows).toEqual([{ outcome: 'invalid' }]);
    expect(await db().query(`SELECT 1 FROM ai_usage_ledger WHERE item_id = $1`, [c.itemId])).toHaveLength(0);
  });
});
