/*
 * ai_hourly_calls is a cache of ai_usage_reservations (calls per user and minute, RELEASED ones
 * excluded) that the rolling hour reads instead of the reservations. Whoever writes the
 * reservations, the buckets must say what a GROUP BY over them says.
 */
import fc from 'fast-check';
import { newId } from '@qv/contracts';
import { createTestDatabase, type TestDatabase } from '@qv/testing';
import { pruneHourlyBuckets } from './index';
import { createUser } from './testing';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const STATUSES = ['RESERVED', 'SETTLED', 'EXPIRED', 'RELEASED'] as const;
const BASE = Date.parse('2026-06-15T12:00:00.000Z');

type Op =
  | { kind: 'insert'; user: number; atMs: number; status: (typeof STATUSES)[number] }
  | { kind: 'status'; pick: number; status: (typeof STATUSES)[number] }
  | { kind: 'move'; pick: number; atMs: number }
  | { kind: 'reassign'; pick: number; user: number }
  | { kind: 'delete'; pick: number };

// Instants within a few minutes, with many on the same minute and on minute edges.
const instant = fc.oneof(fc.integer({ min: 0, max: 5 * 60_000 }), fc.constantFrom(0, 59_999, 60_000, 120_000 - 1, 120_000));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('insert' as const), user: fc.nat(1), atMs: instant, status: fc.constantFrom(...STATUSES) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('status' as const), pick: fc.nat(), status: fc.constantFrom(...STATUSES) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('move' as const), pick: fc.nat(), atMs: instant }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reassign' as const), pick: fc.nat(), user: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
);

it('equal the reservations grouped by user and minute after any inserts, status changes, moves and deletes', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
      const users = [await createUser(db.query), await createUser(db.query)];
      const ids: string[] = [];
      for (const o of ops) {
        const id = ids.length ? ids[('pick' in o ? o.pick : 0) % ids.length] : undefined;
        if (o.kind === 'insert') {
          const newIdValue = newId('rsv');
          ids.push(newIdValue);
          const t = new Date(BASE + o.atMs);
          await db.query(
            `INSERT INTO ai_usage_reservations (id, user_id, item_id, idempotency_key, status, estimated_tokens, day, month, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, 10, $6::date, $7::date, $8, $8::timestamptz + interval '10 min')`,
            [newIdValue, users[o.user], newId('itm'), newId('job'), o.status, '2026-06-15', '2026-06-01', t],
          );
        } else if (!id) {
          continue;
        } else if (o.kind === 'status') {
          await db.query(`UPDATE ai_usage_reservations SET status = $2 WHERE id = $1`, [id, o.status]);
        } else if (o.kind === 'move') {
          await db.query(`UPDATE ai_usage_reservations SET created_at = $2 WHERE id = $1`, [id, new Date(BASE + o.atMs)]);
        } else if (o.kind === 'reassign') {
          await db.query(`UPDATE ai_usage_reservations SET user_id = $2 WHERE id = $1`, [id, users[o.user]]);
        } else {
          await db.query(`DELETE FROM ai_usage_reservations WHERE id = $1`, [id]);
          ids.splice(ids.indexOf(id), 1);
        }
      }
      const buckets = await db.query(
        `SELECT user_id, minute, calls FROM ai_hourly_calls WHERE user_id = ANY($1) AND calls <> 0 ORDER BY user_id, minute`,
        [users],
      );
      const grouped = await db.query(
        `SELECT user_id, date_trunc('minute', created_at, 'UTC') AS minute, count(*)::int AS calls
           FROM ai_usage_reservations WHERE user_id = ANY($1) AND status <> 'RELEASED'
          GROUP BY 1, 2 ORDER BY 1, 2`,
        [users],
      );
      expect(buckets).toEqual(grouped);
    }),
    { numRuns: 60 },
  );
}, 60_000);

it('the sweeper prunes buckets older than two hours and keeps the rest', async () => {
  const user = await createUser(db.query);
  const now = new Date('2026-06-15T15:00:00.000Z');
  const minutes = [-180, -121, -119, -1].map((m) => new Date(now.getTime() + m * 60_000));
  for (const minute of minutes) await db.query(`INSERT INTO ai_hourly_calls (user_id, minute, calls) VALUES ($1, $2, 1)`, [user, minute]);
  expect(await pruneHourlyBuckets(db.prisma, now)).toBeGreaterThanOrEqual(2);
  const left = await db.query<{ minute: Date }>(`SELECT minute FROM ai_hourly_calls WHERE user_id = $1 ORDER BY minute`, [user]);
  expect(left.map((r) => r.minute.toISOString())).toEqual(minutes.slice(2).map((m) => m.toISOString()));
});
