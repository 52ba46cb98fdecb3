import { Enrichment } from '@qv/contracts';
import type { ItemRow, PrismaClient } from '@qv/db';
import { Prisma } from '@qv/db';

const TTL_MEMO_MS = 10_000;

export interface CacheTtls {
  sessionTtlSeconds: number | null;
  contentTtlSeconds: number | null;
}

/** The columns of an item, under the names of Prisma's `ItemRow`. */
const ITEM_COLUMNS = Prisma.sql`id, user_id AS "userId", title, url, content, tasks, status, enrichment, error, created_at AS "createdAt", updated_at AS "updatedAt"`;

/**
 * The enrichment worker's reads and writes of items (and the plan limits it needs for cache TTLs).
 * The per-job statements are raw SQL: Prisma's typed queries cost more CPU in its client runtime
 * than PostgreSQL spends running them.
 */
export class ItemsRepository {
  /** Plan TTLs per user, kept briefly: a plan change reaches the cache tiers within TTL_MEMO_MS. */
  private readonly ttlMemo = new Map<string, { ttls: CacheTtls; until: number }>();

  constructor(private readonly prisma: PrismaClient) {}

  find(itemId: string): Promise<ItemRow | null> {
    return this.prisma.item.findUnique({ where: { id: itemId } });
  }

  /**
   * Marks the item ENRICHING and returns it, in one statement; an item already DONE (or missing)
   * is not touched and comes back as it is (or null). The second branch reads the snapshot from
   * before the update, so it answers only when the update matched nothing.
   */
  async claim(itemId: string): Promise<ItemRow | null> {
    const rows = await this.prisma.$queryRaw<ItemRow[]>`
      WITH claimed AS (
        UPDATE items SET status = 'ENRICHING', updated_at = now()
         WHERE id = ${itemId} AND status <> 'DONE'
        RETURNING ${ITEM_COLUMNS})
      SELECT * FROM claimed
      UNION ALL
      SELECT ${ITEM_COLUMNS} FROM items WHERE id = ${itemId} AND NOT EXISTS (SELECT 1 FROM claimed)`;
    return rows[0] ?? null;
  }

  /** Stores the result once: a retry after a crash finds the item DONE and does not overwrite it. */
  async complete(itemId: string, enrichment: Enrichment): Promise<boolean> {
    const json = JSON.stringify(Enrichment.parse(enrichment));
    const count = await this.prisma.$executeRaw`
      UPDATE items SET status = 'DONE', enrichment = ${json}::jsonb, error = NULL, updated_at = now()
       WHERE id = ${itemId} AND status <> 'DONE'`;
    return count === 1;
  }

  async fail(itemId: string, reason: string): Promise<void> {
    await this.prisma.item.updateMany({ where: { id: itemId, status: { not: 'DONE' } }, data: { status: 'FAILED', error: reason.slice(0, 1000), updatedAt: new Date() } });
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
    const rows = await this.prisma.$queryRaw<{ session_ttl_seconds: bigint | null; content_ttl_seconds: bigint | null }[]>`
      SELECT session_ttl_seconds, content_ttl_seconds FROM quota_user_limits(${userId})`;
    const row = rows[0];
    const seconds = (v: bigint | null | undefined) => (v === null || v === undefined ? null : Number(v));
    return { sessionTtlSeconds: seconds(row?.session_ttl_seconds), contentTtlSeconds: seconds(row?.content_ttl_seconds) };
  }
}
