import { Enrichment } from '@qv/contracts';
import type { ItemRow, PrismaClient } from '@qv/db';
import { Prisma } from '@qv/db';

const TTL_MEMO_MS = 10_000;

export interface CacheTtls {
  sessionTtlSeconds: number | null;
  contentTtlSeconds: number | null;
}

/** The enrichment worker's reads and writes of items (and the plan limits it needs for cache TTLs). */
export class ItemsRepository {
  /** Plan TTLs per user, kept briefly: a plan change reaches the cache tiers within TTL_MEMO_MS. */
  private readonly ttlMemo = new Map<string, { ttls: CacheTtls; until: number }>();

  constructor(private readonly prisma: PrismaClient) {}

  find(itemId: string): Promise<ItemRow | null> {
    return this.prisma.item.findUnique({ where: { id: itemId } });
  }

  /**
   * Marks the item ENRICHING and returns it, in one statement; an item already DONE (or missing)
   * is not touched and comes back as it is (or null).
   */
  async claim(itemId: string): Promise<ItemRow | null> {
    try {
      return await this.prisma.item.update({ where: { id: itemId, status: { not: 'DONE' } }, data: { status: 'ENRICHING', updatedAt: new Date() } });
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2025') return this.find(itemId);
      throw err;
    }
  }

  /** Stores the result once: a retry after a crash finds the item DONE and does not overwrite it. */
  async complete(itemId: string, enrichment: Enrichment): Promise<boolean> {
    const result = await this.prisma.item.updateMany({
      where: { id: itemId, status: { not: 'DONE' } },
      data: { status: 'DONE', enrichment: Enrichment.parse(enrichment) as Prisma.InputJsonValue, error: null, updatedAt: new Date() },
    });
    return result.count === 1;
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
