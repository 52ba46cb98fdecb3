import { testPgUrl } from '@qv/testing';
import { EXACTNESS_LIMITS, runExactness, type ExactnessRow } from '../scripts/chaos/exactness';

/**
 * Issue 12 item 4, at test scale: 2,000 concurrent charges for one user with 50 left, spread over
 * 3 quota-service replicas (their own PostgreSQL cluster), for each of the five limits; once with
 * the per-user admission gate as shipped (most answers are then 429 USER_REQUEST_RATE_EXCEEDED) and
 * once opened, so that every charge reaches PostgreSQL and the 1,950 refusals are the limit's own.
 * `npm run chaos -- exactness` is the same code at 10,000.
 */
describe('exact across 3 quota-service replicas', () => {
  let rows: ExactnessRow[];

  beforeAll(async () => {
    const result = await runExactness({ charges: 2000, left: 50, gates: ['default', 'open'], fallbackPgServerUrl: testPgUrl() });
    console.log(result.table);
    rows = result.rows;
  }, 900_000);

  it.each(EXACTNESS_LIMITS.map((l) => [l.limit, l.code]))('%s: exactly 50 charges accepted and held, every other answer a 429 with the right code', (limit, code) => {
    for (const gate of ['default', 'open'] as const) {
      const row = rows.find((r) => r.limit === limit && r.gate === gate)!;
      // The burst takes at most 50; what the per-user gate shed of it (on a slow machine) the
      // charges after it take, exactly to the limit's own refusal.
      expect({ gate, accepted: row.accepted + row.afterBurst, reservations: row.reservations, other: row.other, endedBy: row.endedBy }).toEqual({ gate, accepted: 50, reservations: 50, other: {}, endedBy: code });
      expect(row.accepted + row.limitRefusals + row.rateRefusals).toBe(2000);
    }
    // Opened, every charge reached the database: the limit itself refused the other 1,950.
    const open = rows.find((r) => r.limit === limit && r.gate === 'open')!;
    expect({ accepted: open.accepted, limitRefusals: open.limitRefusals, rateRefusals: open.rateRefusals }).toEqual({ accepted: 50, limitRefusals: 1950, rateRefusals: 0 });
  });
});
