import { newId, type CacheTier } from '@qv/contracts';
import { Prisma, type Db } from '@qv/db';

/** One stored entry as PostgreSQL has it; `ttlMs` null = permanent. */
export interface StoredEntry {
  raw: string;
  ttlMs: number | null;
}

export interface EntryRef {
  tier: CacheTier;
  scope: string;
  hash: string;
}

export interface EntryRow extends EntryRef {
  raw: string;
}

/**
 * ai_cache: the durable copy of every entry (type = tier, user_id = scope, cache_key = hash,
 * value = the entry JSON). The system tier lives here for good (expires_at NULL); session and
 * content rows carry expires_at and leave through `deleteExpired`.
 */
export class PgCacheRepository {
  constructor(private readonly db: Db) {}

  async upsert(ref: EntryRef, raw: string, tokens: number, ttlSeconds: number | null): Promise<void> {
    await this.db.$executeRaw`
      INSERT INTO ai_cache (id, cache_key, type, user_id, value, tokens, expires_at)
      VALUES (${newId('cch')}, ${ref.hash}, ${ref.tier}, ${ref.scope}, ${raw}::jsonb, ${tokens},
              now() + (${ttlSeconds}::int * interval '1 second'))
      ON CONFLICT (cache_key, type, user_id) DO UPDATE
        SET value = EXCLUDED.value, tokens = EXCLUDED.tokens, expires_at = EXCLUDED.expires_at, created_at = now()`;
  }

  /** The live entry, with the milliseconds it has left. */
  async find(ref: EntryRef): Promise<StoredEntry | null> {
    const rows = await this.db.$queryRaw<{ raw: string; ttl_ms: number | null }[]>`
      SELECT value::text AS raw,
             CASE WHEN expires_at IS NULL THEN NULL
                  ELSE ceil(extract(epoch FROM expires_at - now()) * 1000)::float8 END AS ttl_ms
        FROM ai_cache
       WHERE cache_key = ${ref.hash} AND type = ${ref.tier} AND user_id = ${ref.scope}
         AND (expires_at IS NULL OR expires_at > now())`;
    const row = rows[0];
    if (!row) return null;
    return { raw: row.raw, ttlMs: row.ttl_ms === null ? null : Math.max(1, Number(row.ttl_ms)) };
  }

  async delete(ref: EntryRef): Promise<boolean> {
    const n = await this.db.$executeRaw`DELETE FROM ai_cache WHERE cache_key = ${ref.hash} AND type = ${ref.tier} AND user_id = ${ref.scope}`;
    return n > 0;
  }

  /** Deletes the rows of a tier and/or a scope (all when neither), in batches; answers what it removed. */
  async deleteWhere(filter: { tier?: CacheTier; scope?: string }, batchSize = 5000): Promise<EntryRef[]> {
    const conditions = [Prisma.sql`TRUE`];
    if (filter.tier) conditions.push(Prisma.sql`type = ${filter.tier}`);
    if (filter.scope) conditions.push(Prisma.sql`user_id = ${filter.scope}`);
    const where = Prisma.join(conditions, ' AND ');
    const removed: EntryRef[] = [];
    for (;;) {
      const rows = await this.db.$queryRaw<{ type: CacheTier; user_id: string; cache_key: string }[]>`
        DELETE FROM ai_cache WHERE id IN (SELECT id FROM ai_cache WHERE ${where} LIMIT ${batchSize})
        RETURNING type, user_id, cache_key`;
      for (const r of rows) removed.push({ tier: r.type, scope: r.user_id, hash: r.cache_key });
      if (rows.length < batchSize) return removed;
    }
  }

  /** A page of the system tier, in id order (keyset pagination: warming never holds a long query). */
  async systemPage(afterId: string, limit: number): Promise<(EntryRow & { id: string })[]> {
    const rows = await this.db.$queryRaw<{ id: string; user_id: string; cache_key: string; raw: string }[]>`
      SELECT id, user_id, cache_key, value::text AS raw FROM ai_cache
       WHERE type = 'system' AND expires_at IS NULL AND id > ${afterId}
       ORDER BY id LIMIT ${limit}`;
    return rows.map((r) => ({ id: r.id, tier: 'system', scope: r.user_id, hash: r.cache_key, raw: r.raw }));
  }

  /** Live entries per tier. */
  async countLive(): Promise<Partial<Record<CacheTier, number>>> {
    const rows = await this.db.$queryRaw<{ type: CacheTier; n: number }[]>`
      SELECT type, count(*)::int AS n FROM ai_cache
       WHERE expires_at IS NULL OR expires_at > now() GROUP BY type`;
    return Object.fromEntries(rows.map((r) => [r.type, r.n]));
  }

  /** Deletes expired rows in batches; answers how many. */
  async deleteExpired(batchSize = 1000): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.db.$executeRaw`
        DELETE FROM ai_cache WHERE id IN (
          SELECT id FROM ai_cache WHERE expires_at IS NOT NULL AND expires_at <= now() LIMIT ${batchSize})`;
      total += n;
      if (n < batchSize) return total;
    }
  }

  async ping(): Promise<void> {
    await this.db.$queryRaw`SELECT 1`;
  }
}
