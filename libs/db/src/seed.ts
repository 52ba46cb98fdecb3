import { DEFAULT_PLANS, newId } from '@qv/contracts';
import { apiKeyPrefix, hashApiKey } from './api-keys';
import type { PrismaClient } from './client';

/** Inserts the five plans; existing rows are left alone so admin edits survive a re-seed. */
export async function seedPlans(prisma: PrismaClient): Promise<void> {
  for (const plan of DEFAULT_PLANS) {
    await prisma.plan.upsert({
      where: { id: plan.id },
      update: {},
      create: {
        ...plan,
        tokensPerDay: plan.tokensPerDay === null ? null : BigInt(plan.tokensPerDay),
        tokensPerMonth: plan.tokensPerMonth === null ? null : BigInt(plan.tokensPerMonth),
      },
    });
  }
}

/**
 * Makes sure a user with this exact API key exists (the admin key from ADMIN_API_KEY, the demo
 * user's key). Idempotent: the key's hash identifies the user.
 */
export async function ensureUserWithKey(
  prisma: PrismaClient,
  input: { id: string; email: string; planId: string; role: 'user' | 'admin'; apiKey: string },
): Promise<void> {
  const keyHash = hashApiKey(input.apiKey);
  await prisma.$transaction(async (tx) => {
    await tx.user.upsert({ where: { id: input.id }, update: { role: input.role }, create: { id: input.id, email: input.email, planId: input.planId, role: input.role } });
    const existing = await tx.apiKey.findUnique({ where: { keyHash } });
    if (!existing) await tx.apiKey.create({ data: { id: newId('key'), userId: input.id, keyHash, prefix: apiKeyPrefix(input.apiKey) } });
  });
}
