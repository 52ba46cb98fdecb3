import { Enrichment } from '@qv/contracts';
import { ITEM_COLUMNS, prepared, type ItemRow, type SqlPort } from '@qv/db/sql';

const TTL_MEMO_MS = 10_000;

export interface CacheTtls {
  sessionTtlSeconds: number | null;
  contentTtlSeconds: number | null;
}

/** ItemsRepository.claim's statement. */
const CLAIM_SQL = prepared(
  `WITH claimed AS (
     UPDATE items SET status = 'ENRICHING', updated_at = now()
      WHERE id = $1 AND status <> 'DONE'
     RETURNING ${ITEM_COLUMNS})
   SELECT * FROM claimed
   UNION ALL
   SELECT ${ITEM_COLUMNS} FROM items WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM claimed)`,
);

/** ItemsRepository.complete's statement. */
const COMPLETE_SQL = prepared(
  `UPDATE items SET status = 'DONE', enrichment = $2::jsonb, error = NULL, updated_at = now()
    WHERE id = $1 AND status <> 'DONE' RETURNING 1`,
);

/**
 * The enrichment worker's reads and writes of items (and the plan limits it needs for cache TTLs),
 * on node-postgres (libs/db's SqlPort): Prisma's client runtime cost more CPU per job than
 * PostgreSQL spent running the statements.
 */
export class ItemsRepository {
  /** Plan TTLs per user, kept briefly: a plan change reaches the cache tiers within TTL_MEMO_MS. */
  private readonly ttlMemo = new Map<string, { ttls: CacheTtls; until: number }>();

  constructor(private readonly db: SqlPort) {}

  async find(itemId: string): Promise<ItemRow | null> {
    const { rows } = await this.db.query<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE id = $1`, [itemId]);
    return rows[0] ?? null;
  }

  /**
   * Marks the item ENRICHING and returns it, in one statement; an item already DONE (or missing)
   * is not touched and comes back as it is (or null). The second branch reads the snapshot from
   * before the update, so it answers only when the update matched nothing.
   */
  async claim(itemId: string): Promise<ItemRow | null> {
    const { rows } = await this.db.query<ItemRow>(CLAIM_SQL, [itemId]);
    return rows[0] ?? null;
  }

  /** Stores the result once: a retry after a crash finds the item DONE and does not overwrite it. */
  async complete(itemId: string, enrichment: Enrichment): Promise<boolean> {
    const json = JSON.stringify(Enrichment.parse(enrichment));
    const { rows } = await this.db.query(COMPLETE_SQL, [itemId, json]);
    return rows.length === 1;
  }

  async fail(itemId: string, reason: string): Promise<void> {
    await this.db.query(`UPDATE items SET status = 'FAILED', error = $2, updated_at = now() WHERE id = $1 AND status <> 'DONE'`, [itemId, reason.slice(0, 1000)]);
  }

  /** The session and content TTLs of the user's plan after overrides (null: that tier is off). */
  async cacheTtls(userId: string): Promise<CacheTtls> {
    const memo = this.ttlMemo.get(userId);
    if (memo && memo.until > Date.now()) return memo.ttls;
    const ttls = await this.loadCacheTtls(userId);
    if (this.ttlMemo.size > 10_000) this.ttlMemo.clear();
    this.ttlMemo.set(userId, { ttls, until: Date.now() + TTL_MEMO_MS });
    return ttls;
  }

  /** From prisma/functions/020_quota_user_limits.sql, the same limits the charge reads. */
  private async loadCacheTtls(userId: string): Promise<CacheTtls> {
    const { rows } = await this.db.query<{ session_ttl_seconds: string | number | null; content_ttl_seconds: string | number | null }>(
      `SELECT session_ttl_seconds, content_ttl_seconds FROM quota_user_limits($1)`,
      [userId],
    );
    const row = rows[0];
    // node-postgres answers bigint as a string.
    const seconds = (v: string | number | null | undefined) => (v === null || v === undefined ? null : Number(v));
    return { sessionTtlSeconds: seconds(row?.session_ttl_seconds), contentTtlSeconds: seconds(row?.content_ttl_seconds) };
  }
}
