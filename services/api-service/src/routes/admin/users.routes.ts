import { AppError, CreateUserBody, Email, NotFoundError, PatchUserBody, newId, type LimitOverrides, type User } from '@qv/contracts';
import { apiKeyPrefix, generateApiKey, hashApiKey, Prisma, type PrismaClient } from '@qv/db';
import { parseOr400 } from '@qv/http';
import { Router } from 'express';
import { z } from 'zod';
import type { PrincipalResolver } from '../../repositories/auth.repository';

/**
 * The query of GET /admin/users (the OpenAPI document reads it from here): an email, required, so
 * the route finds a user and never lists them all.
 */
export const FindUsersQuery = z.object({ email: Email });

type UserWithOverrides = Prisma.UserGetPayload<{ include: { overrides: true } }>;

function presentUser(row: UserWithOverrides): User {
  return {
    id: row.id,
    email: row.email,
    plan: row.planId,
    role: row.role === 'admin' ? 'admin' : 'user',
    overrides: (row.overrides?.limits ?? {}) as LimitOverrides,
    createdAt: row.createdAt.toISOString(),
  };
}

async function assertPlanExists(prisma: PrismaClient, planId: string): Promise<void> {
  if (!(await prisma.plan.findUnique({ where: { id: planId } }))) {
    throw new AppError('VALIDATION_FAILED', `Unknown plan ${planId}`, { details: [{ path: ['plan'], code: 'unknown_plan', message: `Unknown plan ${planId}` }] });
  }
}

function uniqueEmailViolation(err: unknown): never {
  if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') throw new AppError('CONFLICT', 'A user with this email exists');
  throw err;
}

/**
 * Users and their plans; the API key is returned once and stored hashed. A new key and a changed
 * plan are announced to every replica's principal cache (PrincipalResolver).
 */
export function adminUsersRoutes(deps: { prisma: PrismaClient; principals: Pick<PrincipalResolver, 'announce'> }): Router {
  const { prisma, principals } = deps;
  const router = Router();

  router.post('/admin/users', async (req, res) => {
    const body = parseOr400(CreateUserBody, req.body);
    await assertPlanExists(prisma, body.plan);
    const apiKey = generateApiKey();
    const keyHash = hashApiKey(apiKey);
    const id = newId('usr');
    const user = await prisma
      .$transaction(async (tx) => {
        await tx.user.create({ data: { id, email: body.email ?? null, planId: body.plan, role: body.role ?? 'user' } });
        await tx.apiKey.create({ data: { id: newId('key'), userId: id, keyHash, prefix: apiKeyPrefix(apiKey) } });
        if (body.overrides && Object.keys(body.overrides).length) await tx.userQuotaOverride.create({ data: { userId: id, limits: body.overrides } });
        return tx.user.findUniqueOrThrow({ where: { id }, include: { overrides: true } });
      })
      .catch(uniqueEmailViolation);
    await principals.announce({ keyHash });
    res.status(201).json({ user: presentUser(user), apiKey });
  });

  // Emails are stored lower-cased (Email) and unique: the answer holds none or one user.
  router.get('/admin/users', async (req, res) => {
    const { email } = parseOr400(FindUsersQuery, req.query, 'query');
    const rows = await prisma.user.findMany({ where: { email }, include: { overrides: true }, take: 1 });
    res.json({ users: rows.map(presentUser) });
  });

  router.get('/admin/users/:id', async (req, res) => {
    const user = await prisma.user.findUnique({ where: { id: req.params.id }, include: { overrides: true } });
    if (!user) throw new NotFoundError('User');
    res.json({ user: presentUser(user) });
  });

  router.patch('/admin/users/:id', async (req, res) => {
    const body = parseOr400(PatchUserBody, req.body);
    if (body.plan) await assertPlanExists(prisma, body.plan);
    const id = req.params.id;
    const user = await prisma
      .$transaction(async (tx) => {
        const existing = await tx.user.findUnique({ where: { id } });
        if (!existing) throw new NotFoundError('User');
        await tx.user.update({ where: { id }, data: { ...(body.plan ? { planId: body.plan } : {}), ...(body.email ? { email: body.email } : {}) } });
        if (body.overrides) {
          await tx.userQuotaOverride.upsert({
            where: { userId: id },
            update: { limits: body.overrides, updatedAt: new Date() },
            create: { userId: id, limits: body.overrides },
          });
        }
        return tx.user.findUniqueOrThrow({ where: { id }, include: { overrides: true } });
      })
      .catch(uniqueEmailViolation);
    if (body.plan) await principals.announce({ userId: id });
    res.json({ user: presentUser(user) });
  });

  return router;
}
