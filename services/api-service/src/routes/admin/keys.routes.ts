import { newId, NotFoundError } from '@qv/contracts';
import { apiKeyPrefix, generateApiKey, hashApiKey, type PrismaClient } from '@qv/db';
import { Router } from 'express';
import type { PrincipalResolver } from '../../repositories/auth.repository';

/**
 * A user's API keys: list, issue another (for rotation: issue, deploy, then revoke the old one),
 * revoke. Keys are stored hashed and shown once. A revocation is refused at once by this replica
 * and by the others as soon as the eviction reaches them over Redis, at the latest after
 * AUTH_CACHE_TTL_MS (PrincipalResolver); a new key is forgotten as unknown the same way, so it
 * works at once.
 */
export function adminKeysRoutes(deps: { prisma: PrismaClient; principals: Pick<PrincipalResolver, 'announce'> }): Router {
  const { prisma, principals } = deps;
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
    const keyHash = hashApiKey(apiKey);
    const key = await prisma.apiKey.create({ data: { id: newId('key'), userId: req.params.id, keyHash, prefix: apiKeyPrefix(apiKey) } });
    await principals.announce({ keyHash });
    res.status(201).json({ key: present(key), apiKey });
  });

  router.delete('/admin/users/:id/keys/:keyId', async (req, res) => {
    const key = await prisma.apiKey.findFirst({ where: { id: req.params.keyId, userId: req.params.id }, select: { keyHash: true } });
    if (!key) throw new NotFoundError('API key');
    await prisma.apiKey.updateMany({ where: { id: req.params.keyId, userId: req.params.id, revokedAt: null }, data: { revokedAt: new Date() } });
    // Also when it was revoked already: a replica may still hold it if an earlier eviction was lost.
    await principals.announce({ keyHash: key.keyHash });
    res.status(204).end();
  });

  return router;
}
