import { newId } from '@qv/contracts';
import { useTestDatabase } from '@qv/testing';
import { applyUsageEvent, applyUsageEvents, InvalidUsageEventError, ReservationNotVisibleError } from './apply-usage-event';
import { reconcile } from './reconciliation';
import { usageEventBatcher } from './usage-event-batcher';
import { Client, Pool } from 'pg';
import { completedEvent, failedEvent, insertUser, reserve, type Charged } from './testing';

const db = useTestDatabase();

/**
 * What the ledger and the counters hold for these users, to compare a batch with the same events
 * applied one by one: in the order of `users`, since their ids are random and two scenarios'
 * users are compared by position.
 */
async function snapshot(users: string[]) {
  const reservations = await db().query(`SELECT user_id, estimated_tokens, status, actual_tokens FROM ai_usage_reservations WHERE user_id = ANY($1) ORDER BY array_position($1::text[], user_id), estimated_tokens`, [users]);
  const days = await db().query(`SELECT user_id, enrichments, tokens::text FROM ai_daily_usage WHERE user_id = ANY($1) ORDER BY array_position($1::text[], user_id)`, [users]);
  const entries = await db().query(`SELECT user_id, kind, charged, total_tokens, tokens_saved FROM ai_usage_ledger WHERE user_id = ANY($1) ORDER BY array_position($1::text[], user_id), kind, total_tokens`, [users]);
  return { reservations, days, entries };
}

/** Three users' charges and one event each of every kind the consumer sees, with their users' ids. */
async function scenario() {
  const users = [await insertUser(db().query), await insertUser(db().query), await insertUser(db().query)];
  const at = new Date();
  const charges: Charged[] = [];
  for (const user of users) for (let i = 0; i < 3; i++) charges.push(await reserve(db().sql, user, 300 + 10 * i, at));
  const events = [
    completedEvent(charges[0], { prompt: 100, completion: 50 }),
    failedEvent(charges[1]),
    completedEvent(charges[2], { prompt: 0, completion: 0 }, { cache: { tier: 'content', hit: true, tokensSaved: 420, costSavedUsd: 0.001 } }),
    completedEvent(charges[3], { prompt: 7, completion: 3 }),
    completedEvent(charges[4], { prompt: 200, completion: 1 }),
    failedEvent(charges[5], { spent: { model: 'sim-1', promptTokens: 40, completionTokens: 0, costUsd: 0.00004 } }),
    completedEvent({ ...charges[6], reservationId: '', jobId: newId('job') }, { prompt: 30, completion: 20 }, { reservationId: null, charged: false }),
    completedEvent(charges[7], { prompt: 1, completion: 1 }),
    completedEvent(charges[8], { prompt: 9, completion: 9 }),
  ];
  return { users, events };
}

describe('applyUsageEvents: several events in one statement', () => {
  it('writes exactly what the same events applied one by one write, answering each in order', async () => {
    const alone = await scenario();
    const aloneOutcomes: string[] = [];
    for (const event of alone.events) aloneOutcomes.push(await applyUsageEvent(db().sql, event));
    const batched = await scenario();
    // Shuffled: the statement orders the calls itself; the answers keep the caller's order.
    const order = [4, 0, 8, 2, 6, 1, 7, 3, 5];
    const answers = await applyUsageEvents(db().sql, order.map((i) => batched.events[i]));
    expect(answers).toEqual(order.map((i) => aloneOutcomes[i]));
    // The two scenarios' users differ: compared by their position.
    const strip = (s: Awaited<ReturnType<typeof snapshot>>, users: string[]) => JSON.parse(JSON.stringify(s).replace(new RegExp(users.join('|'), 'g'), (u) => `user${users.indexOf(u)}`));
    expect(strip(await snapshot(batched.users), batched.users)).toEqual(strip(await snapshot(alone.users), alone.users));
    for (const user of batched.users) for (const row of await reconcile(db().sql, { userId: user })) expect(row.drift).toBe(0);
  });

  it('answers a duplicate, an unseen reservation and another user\'s reservation each on its own, writing only the rest', async () => {
    const user = await insertUser(db().query);
    const [a, b] = [await reserve(db().sql, user, 500, new Date()), await reserve(db().sql, user, 500, new Date())];
    const done = completedEvent(a, { prompt: 10, completion: 10 });
    expect(await applyUsageEvent(db().sql, done)).toBe('applied');
    const unseen = completedEvent({ ...b, reservationId: newId('rsv'), jobId: newId('job') }, { prompt: 1, completion: 1 });
    const foreign = completedEvent({ ...b, userId: await insertUser(db().query), jobId: newId('job') }, { prompt: 1, completion: 1 });
    const fresh = completedEvent(b, { prompt: 60, completion: 40 });
    const answers = await applyUsageEvents(db().sql, [done, unseen, foreign, fresh]);
    expect(answers[0]).toBe('duplicate');
    expect(answers[1]).toBeInstanceOf(ReservationNotVisibleError);
    expect(answers[2]).toBeInstanceOf(InvalidUsageEventError);
    expect(answers[3]).toBe('applied');
    const entries = await db().query<{ total_tokens: number }>(`SELECT total_tokens FROM ai_usage_ledger WHERE user_id = $1 ORDER BY total_tokens`, [user]);
    expect(entries.map((e) => e.total_tokens)).toEqual([20, 100]);
  });

  it('the same completion in two batches at once, and twice in one: one entry, one settlement', async () => {
    const user = await insertUser(db().query);
    const c = await reserve(db().sql, user, 500, new Date());
    const event = completedEvent(c, { prompt: 120, completion: 80 });
    const [first, second] = await Promise.all([applyUsageEvents(db().sql, [event, event]), applyUsageEvents(db().sql, [event])]);
    expect([...first, ...second].filter((o) => o === 'applied')).toHaveLength(1);
    expect([...first, ...second].filter((o) => o === 'duplicate')).toHaveLength(2);
    const [row] = await db().query<{ status: string; actual_tokens: number }>(`SELECT status, actual_tokens FROM ai_usage_reservations WHERE id = $1`, [c.reservationId]);
    expect(row).toEqual({ status: 'SETTLED', actual_tokens: 200 });
    expect(await db().query(`SELECT 1 FROM ai_usage_ledger WHERE user_id = $1`, [user])).toHaveLength(1);
  });

  it('a batch meeting a reservation locked elsewhere holds none of its other events: past the lock timeout each is applied alone', async () => {
    const users = [await insertUser(db().query), await insertUser(db().query)];
    const charges: Charged[] = [];
    for (let i = 0; i < 6; i++) charges.push(await reserve(db().sql, users[i % 2], 400, new Date()));
    const events = charges.map((c, i) => completedEvent(c, { prompt: 10 + i, completion: 5 }));
    // An open transaction elsewhere holds one of the reservations (no statement timeout here to end it).
    const blocker = new Client({ connectionString: db().url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM ai_usage_reservations WHERE id = $1 FOR UPDATE', [charges[2].reservationId]);
    try {
      const batcher = usageEventBatcher(db().sql, { maxBatch: 64, maxInFlight: 1 });
      // One turn of the event loop: the six go out as one batch.
      const outcomes = events.map((event) => batcher.run(event));
      // Every other event is applied while the lock is still held (waiting for the blocker, they would hang here).
      expect(await Promise.all(outcomes.filter((_, i) => i !== 2))).toEqual(['applied', 'applied', 'applied', 'applied', 'applied']);
      const [{ settled }] = await db().query<{ settled: number }>(`SELECT count(*)::int AS settled FROM ai_usage_reservations WHERE id = ANY($1) AND status = 'SETTLED'`, [charges.map((c) => c.reservationId)]);
      expect(settled).toBe(5);
      await blocker.query('ROLLBACK');
      expect(await outcomes[2]).toBe('applied');
    } finally {
      await blocker.end();
    }
    for (const user of users) for (const row of await reconcile(db().sql, { userId: user })) expect(row.drift).toBe(0);
  });

  it("leaves the connection's lock timeout as it was: the bound is the batch statement's own", async () => {
    const user = await insertUser(db().query);
    const charges = [await reserve(db().sql, user, 300, new Date()), await reserve(db().sql, user, 300, new Date())];
    const one = new Pool({ connectionString: db().url, max: 1 });
    try {
      const before = (await one.query<{ lock_timeout: string }>('SHOW lock_timeout')).rows[0].lock_timeout;
      expect(await applyUsageEvents(one, charges.map((c) => completedEvent(c, { prompt: 5, completion: 5 })))).toEqual(['applied', 'applied']);
      expect((await one.query<{ lock_timeout: string }>('SHOW lock_timeout')).rows[0].lock_timeout).toBe(before);
    } finally {
      await one.end();
    }
  });
});
