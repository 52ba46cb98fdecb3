import { newId, type CacheTier } from '@qv/contracts';
import { prepared, type SqlPort } from '@qv/db/sql';

/** libs/db's SqlPort with the affected-row count node-postgres also answers (a `Pool` is one). */
export interface CacheSqlPort extends SqlPort {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

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

const UPSERT_SQL = prepared(
  `INSERT INTO ai_cache (id, cache_key, type, user_id, value, tokens, expires_at)
   VALUES ($1, $2, $3, $4, $5::jsonb, $6, now() + ($7::int * interval '1 second'))
   ON CONFLICT (cache_key, type, user_id) DO UPDATE
     SET value = EXCLUDED.value, tokens = EXCLUDED.tokens, expires_at = EXCLUDED.expires_at, created_at = now()`,
);

const UPSERT_MANY_SQL = prepared(
  `INSERT INTO ai_cache (id, cache_key, type, user_id, value, tokens, expires_at)
   SELECT t.id, t.cache_key, t.type, t.user_id, t.value::jsonb, t.tokens, now() + (t.ttl * interval '1 second')
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[])
          AS t(id, cache_key, type, user_id, value, tokens, ttl)
   ON CONFLICT (cache_key, type, user_id) DO UPDATE
     SET value = EXCLUDED.value, tokens = EXCLUDED.tokens, expires_at = EXCLUDED.expires_at, created_at = now()`,
);

const FIND_MANY_SQL = prepared(
  `SELECT t.i, c.value::text AS raw,
          CASE WHEN c.expires_at IS NULL THEN NULL
               ELSE ceil(extract(epoch FROM c.expires_at - now()) * 1000)::float8 END AS ttl_ms
     FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(cache_key, type, user_id, i)
     JOIN ai_cache c ON c.cache_key = t.cache_key AND c.type = t.type AND c.user_id = t.user_id
    WHERE c.expires_at IS NULL OR c.expires_at > now()`,
);

const FIND_SQL = prepared(
  `SELECT value::text AS raw,
          CASE WHEN expires_at IS NULL THEN NULL
               ELSE ceil(extract(epoch FROM expires_at - now()) * 1000)::float8 END AS ttl_ms
     FROM ai_cache
    WHERE cache_key = $1 AND type = $2 AND user_id = $3
      AND (expires_at IS NULL OR expires_at > now())`,
);

/**
 * ai_cache: the durable copy of every entry (type = tier, user_id = scope, cache_key = hash,
 * value = the entry JSON). The system tier lives here for good (expires_at NULL); session and
 * content rows carry expires_at and leave through `deleteExpired`.
 *
 * On node-postgres (libs/db's SqlPort), not Prisma: an upsert and a look-up per cache miss are on
 * the hot path, and Prisma's client runtime cost more CPU than the statements themselves.
 */
export class PgCacheRepository {
  constructor(private readonly db: CacheSqlPort) {}

  async upsert(ref: EntryRef, raw: string, tokens: number, ttlSeconds: number | null): Promise<void> {
    await this.db.query(
      UPSERT_SQL,
      [newId('cch'), ref.hash, ref.tier, ref.scope, raw, tokens, ttlSeconds],
    );
  }

  /** `upsert` of several distinct entries in one statement (one alone: `upsert`'s simpler statement). */
  async upsertMany(rows: { ref: EntryRef; raw: string; tokens: number; ttlSeconds: number | null }[]): Promise<void> {
    if (rows.length === 0) return;
    if (rows.length === 1) return this.upsert(rows[0].ref, rows[0].raw, rows[0].tokens, rows[0].ttlSeconds);
    await this.db.query(
      UPSERT_MANY_SQL,
      [
        rows.map(() => newId('cch')),
        rows.map((r) => r.ref.hash),
        rows.map((r) => r.ref.tier),
        rows.map((r) => r.ref.scope),
        rows.map((r) => r.raw),
        rows.map((r) => r.tokens),
        rows.map((r) => r.ttlSeconds),
      ],
    );
  }

  /** `find` of several entries in one statement, in their order (null where none is live; one alone: `find`). */
  async findMany(refs: EntryRef[]): Promise<(StoredEntry | null)[]> {
    if (refs.length === 0) return [];
    if (refs.length === 1) return [await this.find(refs[0])];
    const { rows } = await this.db.query<{ i: string; raw: string; ttl_ms: number | null }>(
      FIND_MANY_SQL,
      [refs.map((r) => r.hash), refs.map((r) => r.tier), refs.map((r) => r.scope)],
    );
    const found: (StoredEntry | null)[] = refs.map(() => null);
    for (const row of rows) found[Number(row.i) - 1] = { raw: row.raw, ttlMs: ttlOf(row.ttl_ms) };
    return found;
  }

  /** The live entry, with the milliseconds it has left. */
  async find(ref: EntryRef): Promise<StoredEntry | null> {
    const { rows } = await this.db.query<{ raw: string; ttl_ms: number | null }>(
      FIND_SQL,
      [ref.hash, ref.tier, ref.scope],
    );
    const row = rows[0];
    if (!row) return null;
    return { raw: row.raw, ttlMs: ttlOf(row.ttl_ms) };
  }

  async delete(ref: EntryRef): Promise<boolean> {
    const { rowCount } = await this.db.query(`DELETE FROM ai_cache WHERE cache_key = $1 AND type = $2 AND user_id = $3`, [ref.hash, ref.tier, ref.scope]);
    return (rowCount ?? 0) > 0;
  }

  /** Deletes the rows of a tier and/or a scope (all when neither), in batches; answers what it removed. */
  async deleteWhere(filter: { tier?: CacheTier; scope?: string }, batchSize = 5000): Promise<EntryRef[]> {
    // A null filter matches every row: one statement text whatever the filter.
    const removed: EntryRef[] = [];
    for (;;) {
      const { rows } = await this.db.query<{ type: CacheTier; user_id: string; cache_key: string }>(
        `DELETE FROM ai_cache WHERE id IN (
           SELECT id FROM ai_cache WHERE ($1::text IS NULL OR type = $1) AND ($2::text IS NULL OR user_id = $2) LIMIT $3)
         RETURNING type, user_id, cache_key`,
        [filter.tier ?? null, filter.scope ?? null, batchSize],
      );
      for (const r of rows) removed.push({ tier: r.type, scope: r.user_id, hash: r.cache_key });
      if (rows.length < batchSize) return removed;
    }
  }

  /** A page of the live entries of every tier, in id order (keyset pagination: warming never holds a long query). */
  async livePage(afterId: string, limit: number): Promise<(EntryRow & StoredEntry & { id: string })[]> {
    const { rows } = await this.db.query<{ id: string; type: CacheTier; user_id: string; cache_key: string; raw: string; ttl_ms: number | null }>(
      `SELECT id, type, user_id, cache_key, value::text AS raw,
              CASE WHEN expires_at IS NULL THEN NULL
                   ELSE ceil(extract(epoch FROM expires_at - now()) * 1000)::float8 END AS ttl_ms
         FROM ai_cache
        WHERE (expires_at IS NULL OR expires_at > now()) AND id > $1
        ORDER BY id LIMIT $2`,
      [afterId, limit],
    );
    return rows.map((r) => ({ id: r.id, tier: r.type, scope: r.user_id, hash: r.cache_key, raw: r.raw, ttlMs: ttlOf(r.ttl_ms) }));
  }

  /** Live entries per tier. */
  async countLive(): Promise<Partial<Record<CacheTier, number>>> {
    const { rows } = await this.db.query<{ type: CacheTier; n: number }>(
      `SELECT type, count(*)::int AS n FROM ai_cache WHERE expires_at IS NULL OR expires_at > now() GROUP BY type`,
    );
    return Object.fromEntries(rows.map((r) => [r.type, r.n]));
  }

  /**
   * Deletes expired rows, `batchSize` per statement. The rows are found by the expires_at index and
   * deleted by ctid (a TID scan, what `= ANY(ARRAY(…))` plans to); the expiry is checked again on
   * the row deleted, so an entry a fill renewed while this statement waited for its lock is kept
   * (`id IN (…)` alone deleted it: the id still matched).
   */
  async deleteExpired(batchSize = 1000): Promise<number> {
    let total = 0;
    for (;;) {
      const { rows } = await this.db.query<{ n: number }>(
        `WITH d AS (
           DELETE FROM ai_cache
            WHERE ctid = ANY(ARRAY(SELECT ctid FROM ai_cache WHERE expires_at <= now() LIMIT $1)) AND expires_at <= now()
            RETURNING 1)
         SELECT count(*)::int AS n FROM d`,
        [batchSize],
      );
      const n = rows[0].n;
      total += n;
      if (n < batchSize) return total;
    }
  }

  async ping(): Promise<void> {
    await this.db.query('SELECT 1');
  }
}

/** The milliseconds a row has left as Redis takes them (at least 1), or null: permanent. */
function ttlOf(ttlMs: number | null): number | null {
  return ttlMs === null ? null : Math.max(1, Number(ttlMs));
}
