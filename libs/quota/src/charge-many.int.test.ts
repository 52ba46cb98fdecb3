import { AppError, NotFoundError } from '@qv/contracts';
import { useTestDatabase } from '@qv/testing';
import { charge, chargeMany, type ChargeResult } from './index';
import { chargeBody, createUser, LIMIT_SCENARIOS } from './testing';

/** Many charges in one statement (CHARGE_MANY_SQL): each decided as it would be alone, in one commit. */
const db = useTestDatabase();
const TTL = 900;
const NOW = new Date('2026-06-15T12:00:00.000Z');
const options = { now: NOW, reservationTtlSeconds: TTL };

const outcome = (r: ChargeResult | AppError) => (r instanceof AppError ? r.code : r.ok ? (r.replayed ? 'replayed' : 'accepted') : r.code);

describe('chargeMany', () => {
  it('answers in the order given, each as alone: accepted, refused, unknown user, reused key, replayed', async () => {
    const a = await createUser(db().query, 'free');
    const full = await createUser(db().query, 'free', { enrichmentsPerDay: 0 });
    const first = chargeBody(a, 10);
    expect(outcome(await charge(db().sql, first, options))).toBe('accepted');
    const z = await createUser(db().query, 'free');
    const reqs = [chargeBody(z, 10), chargeBody(full, 10), chargeBody('usr_nobody', 10), { ...chargeBody(z, 10), idempotencyKey: first.idempotencyKey }, first];
    const results = await chargeMany(db().sql, reqs, options);
    expect(results.map(outcome)).toEqual(['accepted', 'DAILY_QUOTA_EXCEEDED', 'NOT_FOUND', 'IDEMPOTENCY_KEY_REUSED', 'replayed']);
    expect(results[2]).toBeInstanceOf(NotFoundError);
    const accepted = results[0] as Extract<ChargeResult, { ok: true }>;
    expect(accepted.reservation).toMatchObject({ userId: z, status: 'RESERVED', estimatedTokens: 10 });
    expect(accepted.status.quotas.enrichmentsPerDay.used).toBe(1);
    const rows = await db().query<{ user_id: string }>(`SELECT user_id FROM ai_usage_reservations WHERE user_id = ANY($1) ORDER BY user_id`, [[a, z, full]]);
    expect(rows.map((r) => r.user_id).sort()).toEqual([a, z].sort());
  });

  it('one user twice in one statement: the second sees the first (a limit of one takes one)', async () => {
    const u = await createUser(db().query, 'free', { enrichmentsPerDay: 1 });
    const results = await chargeMany(db().sql, [chargeBody(u, 10), chargeBody(u, 10)], options);
    expect(results.map(outcome)).toEqual(['accepted', 'DAILY_QUOTA_EXCEEDED']);
  });

  it.each(LIMIT_SCENARIOS.map((s) => [s.code, s] as const))('stays exact for %s: statements of many users at once, overlapping, take exactly what is left', async (_code, scenario) => {
    // One after another: db().query is one connection, which runs one query at a time.
    const users: string[] = [];
    for (let i = 0; i < 5; i++) users.push(await scenario.setUp(db().query, NOW));
    // 30 statements of 10 charges each, every user in every statement, in shuffled orders: 60 per user against 20 left.
    const statements = Array.from({ length: 30 }, (_, s) => {
      const reqs = Array.from({ length: 10 }, (__, k) => chargeBody(users[(s + k) % users.length], scenario.estimate));
      return chargeMany(db().sql, reqs.sort(() => Math.random() - 0.5), options);
    });
    const results = (await Promise.all(statements)).flat();
    for (const user of users) {
      const mine = results.filter((r) => !(r instanceof AppError) && (r.ok ? r.reservation.userId === user : true));
      expect(mine.length).toBeGreaterThan(0);
    }
    const accepted = results.filter((r) => !(r instanceof AppError) && r.ok);
    expect(accepted).toHaveLength(20 * users.length);
    const refusals = results.filter((r) => !(r instanceof AppError) && !r.ok).map(outcome);
    expect(new Set(refusals)).toEqual(new Set([scenario.code]));
    for (const user of users) {
      const [{ n }] = await db().query<{ n: string }>(`SELECT count(*)::text AS n FROM ai_usage_reservations WHERE user_id = $1`, [user]);
      expect(n).toBe('20');
    }
  }, 60_000);

  it('a statement that fails makes none of its charges: one transaction', async () => {
    const [first, blocked] = [await createUser(db().query, 'free'), await createUser(db().query, 'free')].sort();
    // The second user's lock is held elsewhere, so the statement charges the first, then waits, then times out.
    const holder = await db().sql.connect();
    const client = await db().sql.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [blocked]);
      await client.query("SET statement_timeout = '300ms'");
      await expect(chargeMany(client, [chargeBody(blocked, 10), chargeBody(first, 10)], options)).rejects.toThrow(/statement timeout/);
      await holder.query('ROLLBACK');
    } finally {
      holder.release();
      client.release(true);
    }
    expect(await db().query(`SELECT 1 FROM ai_usage_reservations WHERE user_id = ANY($1)`, [[first, blocked]])).toHaveLength(0);
    expect(outcome(await charge(db().sql, chargeBody(first, 10), options))).toBe('accepted');
  });
});
