import { hashApiKey, type PrismaClient } from '@qv/db';

export interface Principal {
  userId: string;
  planId: string;
  role: 'user' | 'admin';
}

/**
 * Resolves API keys to users by the key's hash. Found principals are kept in memory for `ttlMs`
 * (default 5 s): every request authenticates, and a database round trip each time halves the
 * accept rate. The price is that a revoked key or a role change takes up to `ttlMs` to be seen by
 * every replica; quota limits are not cached (the charge reads them in its own transaction).
 * Unknown keys are never cached, so a new key works at once.
 */
export class PrincipalResolver {
  private readonly cache = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly ttlMs = 5000,
    private readonly maxEntries = 10_000,
  ) {}

  async resolve(apiKey: string): Promise<Principal | null> {
    const hash = hashApiKey(apiKey);
    const cached = this.cache.get(hash);
    if (cached && cached.until > Date.now()) return cached.principal;
    const key = await this.prisma.apiKey.findUnique({ where: { keyHash: hash }, include: { user: true } });
    if (!key || key.revokedAt) {
      this.cache.delete(hash);
      return null;
    }
    const principal: Principal = { userId: key.user.id, planId: key.user.planId, role: key.user.role === 'admin' ? 'admin' : 'user' };
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(hash, { principal, until: Date.now() + this.ttlMs });
    return principal;
  }
}
