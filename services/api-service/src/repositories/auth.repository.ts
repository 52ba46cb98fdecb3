import { hashApiKey, type PrismaClient } from '@qv/db';

export interface Principal {
  userId: string;
  planId: string;
  role: 'user' | 'admin';
}

/** Looks an API key up by its hash; revoked keys do not authenticate. */
export async function findPrincipal(prisma: PrismaClient, apiKey: string): Promise<Principal | null> {
  const key = await prisma.apiKey.findUnique({ where: { keyHash: hashApiKey(apiKey) }, include: { user: true } });
  if (!key || key.revokedAt) return null;
  return { userId: key.user.id, planId: key.user.planId, role: key.user.role === 'admin' ? 'admin' : 'user' };
}
