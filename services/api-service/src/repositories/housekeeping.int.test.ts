import { sqlPortOf, tableReads, useTestDatabase } from '@qv/testing';
import { runHousekeeping } from './housekeeping';

describe('housekeeping', () => {
  const db = useTestDatabase();

  it('deletes expired Idempotency-Keys and long-sent outbox rows, and nothing else', async () => {
    await db().query(`INSERT INTO idempotency_keys (user_id, key, request_hash, state, expires_at) VALUES
      ('u', 'expired', 'h', 'done', now() - interval '1 minute'),
      ('u', 'live', 'h', 'done', now() + interval '23 hours'),
      ('u', 'in-flight', 'h', 'in_progress', now() + interval '1 hour')`);
    await db().query(`INSERT INTO outbox (id, item_id, queue, job_name, job_id, payload, created_at, sent_at) VALUES
      ('obx_old', 'itm_1', 'enrichment', 'enrich', 'itm_1', '{}', now() - interval '3 days', now() - interval '3 days'),
      ('obx_recent', 'itm_2', 'enrichment', 'enrich', 'itm_2', '{}', now() - interval '1 hour', now() - interval '1 hour'),
      ('obx_unsent', 'itm_3', 'enrichment', 'enrich', 'itm_3', '{}', now() - interval '3 days', NULL)`);

    expect(await runHousekeeping(db().sql, { outboxRetentionHours: 24 })).toEqual({ idempotencyKeys: 1, outboxRows: 1 });
    expect((await db().query<{ key: string }>('SELECT key FROM idempotency_keys ORDER BY key')).map((r) => r.key)).toEqual(['in-flight', 'live']);
    expect((await db().query<{ id: string }>('SELECT id FROM outbox ORDER BY id')).map((r) => r.id)).toEqual(['obx_recent', 'obx_unsent']);
    expect(await runHousekeeping(db().sql, { outboxRetentionHours: 24 })).toEqual({ idempotencyKeys: 0, outboxRows: 0 });
  });

  it('reads what it deletes, not the live keys and the recent outbox', async () => {
    // A day of traffic: 20,000 live keys and 20,000 outbox rows sent within the retention, beside
    // three expired keys and three long-sent rows.
    await db().query(`INSERT INTO idempotency_keys (user_id, key, request_hash, state, expires_at)
      SELECT 'u', 'live-' || g, 'h', 'done', now() + interval '1 hour' + make_interval(secs => g) FROM generate_series(1, 20000) g
      UNION ALL SELECT 'u', 'old-' || g, 'h', 'done', now() - interval '1 minute' FROM generate_series(1, 3) g`);
    await db().query(`INSERT INTO outbox (id, item_id, queue, job_name, job_id, payload, created_at, sent_at)
      SELECT 'obx_r' || g, 'itm_r' || g, 'enrichment', 'enrich', 'itm_r' || g, '{}'::jsonb, now() - make_interval(secs => g), now() - make_interval(secs => g) FROM generate_series(1, 20000) g
      UNION ALL SELECT 'obx_o' || g, 'itm_o' || g, 'enrichment', 'enrich', 'itm_o' || g, '{}'::jsonb, now() - interval '3 days', now() - interval '3 days' FROM generate_series(1, 3) g`);
    await db().query('ANALYZE idempotency_keys');
    await db().query('ANALYZE outbox');

    for (const table of ['idempotency_keys', 'outbox']) {
      const run = await tableReads(db().query, table, () => runHousekeeping(sqlPortOf(db().query), { outboxRetentionHours: 24 }));
      expect(run.result).toEqual({ idempotencyKeys: 3, outboxRows: 3 });
      expect(run.seqScans).toBe(0);
      expect(run.entries).toBeLessThan(50);
    }
  });
});
