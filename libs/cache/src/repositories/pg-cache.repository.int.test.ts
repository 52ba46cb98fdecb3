import { eventually, sqlPortOf, tableReads, useTestDatabase } from '@qv/testing';
import { PgCacheRepository, type CacheSqlPort } from './pg-cache.repository';

describe('PgCacheRepository.deleteExpired', () => {
  const db = useTestDatabase();
  const insert = (ids: string, expiresAt: string, count: number) =>
    db().query(`INSERT INTO ai_cache (id, cache_key, type, user_id, value, tokens, expires_at)
      SELECT '${ids}' || g, 'k-${ids}' || g, 'content', 'u', '{}'::jsonb, 1, ${expiresAt} FROM generate_series(1, ${count}) g`);

  it('deletes the expired rows alone, in batches, and the permanent ones never', async () => {
    await insert('old', `now() - interval '1 minute'`, 25);
    await insert('live', `now() + interval '1 hour'`, 3);
    await insert('perm', 'NULL', 2);
    expect(await new PgCacheRepository(db().sql).deleteExpired(10)).toBe(25);
    expect((await db().query<{ n: string }>(`SELECT count(*) AS n FROM ai_cache`))[0].n).toBe('5');
    expect(await new PgCacheRepository(db().sql).deleteExpired(10)).toBe(0);
  });

  it('spares an entry a fill renews while the delete waits for its row', async () => {
    await insert('renewed', `now() - interval '1 minute'`, 1);
    // The fill's upsert holds the row, renewed, when the delete reaches it.
    await db().query('BEGIN');
    await db().query(`UPDATE ai_cache SET expires_at = now() + interval '1 hour' WHERE id = 'renewed1'`);
    const deleting = new PgCacheRepository(db().sql).deleteExpired();
    await eventually(async () => (await db().query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).length === 1);
    await db().query('COMMIT');
    expect(await deleting).toBe(0);
    expect(await db().query(`SELECT id FROM ai_cache WHERE id = 'renewed1'`)).toHaveLength(1);
  });

  it('reads what it deletes, not the live entries', async () => {
    // A day of content answers still live beside three expired ones.
    await db().query(`INSERT INTO ai_cache (id, cache_key, type, user_id, value, tokens, expires_at)
      SELECT 'day' || g, 'k-day' || g, 'content', 'u', '{}'::jsonb, 1, now() + interval '1 hour' + make_interval(secs => g) FROM generate_series(1, 20000) g`);
    await insert('gone', `now() - interval '1 minute'`, 3);
    // What autovacuum does: statistics, and the earlier tests' deleted rows gone from the indexes.
    await db().query('VACUUM ANALYZE ai_cache');

    const run = await tableReads(db().query, 'ai_cache', () => new PgCacheRepository(sqlPortOf(db().query) as CacheSqlPort).deleteExpired());
    expect(run.result).toBe(3);
    expect(run.seqScans).toBe(0);
    expect(run.entries).toBeLessThan(50);
  });
});
