import { useTestDatabase } from '@qv/testing';
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
});
