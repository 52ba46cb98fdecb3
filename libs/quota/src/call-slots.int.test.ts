/*
 * ai_call_slots is a cache of ai_usage_reservations (calls per user and 10-second slot, RELEASED
 * ones excluded) that the rolling hour reads instead of the reservations. Whoever writes the
 * reservations, the slots must say what a GROUP BY over them says.
 */
import fc from 'fast-check';
import { newId } from '@qv/contracts';
import { useTestDatabase } from '@qv/testing';
import { pruneCallSlotsBefore } from './index';
import { createUser } from './testing';

const db = useTestDatabase();

const STATUSES = ['RESERVED', 'SETTLED', 'EXPIRED', 'RELEASED'] as const;
const BASE = Date.parse('2026-06-15T12:00:00.000Z');

type Op =
  | { kind: 'insert'; user: number; atMs: number; status: (typeof STATUSES)[number] }
  | { kind: 'status'; pick: number; status: (typeof STATUSES)[number] }
  | { kind: 'move'; pick: number; atMs: number }
  | { kind: 'reassign'; pick: number; user: number }
  | { kind: 'delete'; pick: number };

// Instants within a minute, with many in the same slot and on slot edges.
const instant = fc.oneof(fc.integer({ min: 0, max: 60_000 }), fc.constantFrom(0, 9_999, 10_000, 20_000 - 1, 20_000));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('insert' as const), user: fc.nat(1), atMs: instant, status: fc.constantFrom(...STATUSES) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('status' as const), pick: fc.nat(), status: fc.constantFrom(...STATUSES) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('move' as const), pick: fc.nat(), atMs: instant }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reassign' as const), pick: fc.nat(), user: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
);

it('equal the reservations grouped by user and slot after any inserts, status changes, moves and deletes', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
      const users = [await createUser(db().query), await createUser(db().query)];
      const ids: string[] = [];
      for (const o of ops) {
        const id = ids.length ? ids[('pick' in o ? o.pick : 0) % ids.length] : undefined;
        if (o.kind === 'insert') {
          const newIdValue = newId('rsv');
          ids.push(newIdValue);
          const t = new Date(BASE + o.atMs);
          await db().query(
            `INSERT INTO ai_usage_reservations (id, user_id, item_id, idempotency_key, status, estimated_tokens, day, month, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, 10, $6::date, $7::date, $8, $8::timestamptz + interval '10 min')`,
            [newIdValue, users[o.user], newId('itm'), newId('job'), o.status, '2026-06-15', '2026-06-01', t],
          );
        } else if (!id) {
          continue;
        } else if (o.kind === 'status') {
          await db().query(`UPDATE ai_usage_reservations SET status = $2 WHERE id = $1`, [id, o.status]);
        } else if (o.kind === 'move') {
          await db().query(`UPDATE ai_usage_reservations SET created_at = $2 WHERE id = $1`, [id, new Date(BASE + o.atMs)]);
        } else if (o.kind === 'reassign') {
          await db().query(`UPDATE ai_usage_reservations SET user_id = $2 WHERE id = $1`, [id, users[o.user]]);
        } else {
          await db().query(`DELETE FROM ai_usage_reservations WHERE id = $1`, [id]);
          ids.splice(ids.indexOf(id), 1);
        }
      }
      const slots = await db().query(
        `SELECT user_id, slot_start, calls FROM ai_call_slots WHERE user_id = ANY($1) AND calls <> 0 ORDER BY user_id, slot_start`,
        [users],
      );
      const grouped = await db().query(
        `SELECT user_id, date_bin('10 seconds', created_at, '1970-01-01 00:00:00+00') AS slot_start, count(*)::int AS calls
           FROM ai_usage_reservations WHERE user_id = ANY($1) AND status <> 'RELEASED'
          GROUP BY 1, 2 ORDER BY 1, 2`,
        [users],
      );
      expect(slots).toEqual(grouped);
    }),
    { numRuns: 60 },
  );
}, 60_000);

it('the sweeper prunes slots older than two hours and keeps the rest', async () => {
  const user = await createUser(db().query);
  const now = new Date('2026-06-15T15:00:00.000Z');
  const minutes = [-180, -121, -119, -1].map((m) => new Date(now.getTime() + m * 60_000));
  for (const slot of minutes) await db().query(`INSERT INTO ai_call_slots (user_id, slot_start, calls) VALUES ($1, $2, 1)`, [user, slot]);
  expect(await pruneCallSlotsBefore(db().sql, now)).toBeGreaterThanOrEqual(2);
  const left = await db().query<{ slot_start: Date }>(`SELECT slot_start FROM ai_call_slots WHERE user_id = $1 ORDER BY slot_start`, [user]);
  expect(left.map((r) => r.slot_start.toISOString())).toEqual(minutes.slice(2).map((m) => m.toISOString()));
});

it('the rolling hour counts exactly what the reservations say, wherever in its slot the hour starts', async () => {
  const HOUR = 3_600_000;
  // Calls around the hour's edge (20 s either side of where it falls), a few well inside the hour.
  const call = fc.record({ atMs: fc.oneof(fc.integer({ min: -HOUR - 20_000, max: -HOUR + 20_000 }), fc.integer({ min: -HOUR, max: 0 })), status: fc.constantFrom(...STATUSES) });
  await fc.assert(
    fc.asyncProperty(fc.array(call, { maxLength: 30 }), fc.integer({ min: 0, max: 9_999 }), fc.boolean(), async (calls, offsetMs, onEdge) => {
      const user = await createUser(db().query);
      // The hour starts `offsetMs` into its slot; with onEdge every third call is on that very instant (not counted).
      const now = new Date(BASE + offsetMs);
      for (const [i, c] of calls.entries()) {
        const at = new Date(onEdge && i % 3 === 0 ? now.getTime() - HOUR : now.getTime() + c.atMs);
        await db().query(
          `INSERT INTO ai_usage_reservations (id, user_id, item_id, idempotency_key, status, estimated_tokens, day, month, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, 10, $6::date, $7::date, $8, $8::timestamptz + interval '10 min')`,
          [newId('rsv'), user, newId('itm'), newId('job'), c.status, '2026-06-15', '2026-06-01', at],
        );
      }
      const [usage] = await db().query<{ calls_in_hour: number; oldest_call_at: Date | null }>(`SELECT calls_in_hour, oldest_call_at FROM quota_usage($1, $2)`, [user, now]);
      const [expected] = await db().query<{ calls: number; oldest: Date | null }>(
        `SELECT count(*)::int AS calls, min(created_at) AS oldest FROM ai_usage_reservations
          WHERE user_id = $1 AND created_at > $2::timestamptz - interval '1 hour' AND status <> 'RELEASED'`,
        [user, now],
      );
      expect(usage.calls_in_hour).toBe(expected.calls);
      expect(usage.oldest_call_at?.toISOString() ?? null).toBe(expected.oldest?.toISOString() ?? null);
    }),
    { numRuns: 80 },
  );
}, 60_000);
