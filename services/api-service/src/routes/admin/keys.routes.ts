import { newId, NotFoundError } from '@qv/contracts';
import { apiKeyPrefix, generateApiKey, hashApiKey, type PrismaClient } from '@qv/db';
import { Router } from 'express';

/**
 * A user's API keys: list, issue another (for rotation: issue, deploy, then revoke the old one),
 * revoke. Keys are stored hashed and shown once. A revocation reaches every api-service replica
 * within AUTH_CACHE_TTL_MS (the principal cache).
 */
export function adminKeysRoutes(deps: { prisma: PrismaClient }): Router {
  const { prisma } = deps;
  const router = Router();
  const present = (k: { id: string; prefix: string; createdAt: Date; revokedAt: Date | null }) => ({
    id: k.id,
    prefix: k.prefix,
    createdAt: k.createdAt.toISOString(),
    revokedAt: k.revokedAt?.toISOString() ?? null,
  });
  const assertUser = async (id: string) => {
    if (!(await prisma.user.findUnique({ where: { id }, select: { id: true } }))) throw new NotFoundError('User');
  };

  router.get('/admin/users/:id/keys', async (req, res) => {
    await assertUser(req.params.id);
    const keys = await prisma.apiKey.findMany({ where: { userId: req.params.id }, orderBy: { createdAt: 'asc' } });
    res.json({ keys: keys.map(present) });
  });

  router.post('/admin/users/:id/keys', async (req, res) => {
    await assertUser(req.params.id);
    const apiKey = generateApiKey();
    const key = await prisma.apiKey.create({ data: { id: newId('key'), userId: req.params.id, keyHash: hashApiKey(apiKey), prefix: apiKeyPrefix(apiKey) } });
    res.status(201).json({ key: present(key), apiKey });
  });

  router.delete('/admin/users/:id/keys/:keyId', async (req, res) => {
    const revoked = await prisma.apiKey.updateMany({ where: { id: req.params.keyId, userId: req.params.id, revokedAt: null }, data: { revokedAt: new Date() } });
    if (revoked.count === 0 && !(await prisma.apiKey.findFirst({ where: { id: req.params.keyId, userId: req.params.id } }))) throw new NotFoundError('API key');
    res.status(204).end();
  });

  return router;
}
