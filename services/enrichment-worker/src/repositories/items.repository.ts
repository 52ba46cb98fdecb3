import { effectiveLimits, Enrichment, PlanLimits, type LimitOverrides } from '@qv/contracts';
import type { ItemRow, PrismaClient } from '@qv/db';
import { Prisma } from '@qv/db';

/** The enrichment worker's reads and writes of items (and the plan limits it needs for cache TTLs). */
export class ItemsRepository {
  constructor(private readonly prisma: PrismaClient) {}

  find(itemId: string): Promise<ItemRow | null> {
    return this.prisma.item.findUnique({ where: { id: itemId } });
  }

  async markEnriching(itemId: string): Promise<void> {
    await this.prisma.item.updateMany({ where: { id: itemId, status: { not: 'DONE' } }, data: { status: 'ENRICHING', updatedAt: new Date() } });
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
  async cacheTtls(userId: string): Promise<{ sessionTtlSeconds: number | null; contentTtlSeconds: number | null }> {
    const user = await this.prisma.user.findUnique({ where: { id: userId }, include: { plan: true, overrides: true } });
    if (!user) return { sessionTtlSeconds: null, contentTtlSeconds: null };
    const plan = PlanLimits.parse({
      ...user.plan,
      tokensPerDay: user.plan.tokensPerDay === null ? null : Number(user.plan.tokensPerDay),
      tokensPerMonth: user.plan.tokensPerMonth === null ? null : Number(user.plan.tokensPerMonth),
    });
    const limits = effectiveLimits(plan, (user.overrides?.limits ?? {}) as LimitOverrides);
    return { sessionTtlSeconds: limits.sessionTtlSeconds || null, contentTtlSeconds: limits.contentTtlSeconds || null };
  }
}
