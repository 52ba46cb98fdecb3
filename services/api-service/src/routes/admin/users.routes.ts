import { AppError, CreateUserBody, CreateUserResponse, Email, NotFoundError, PatchUserBody, UserResponse, UsersResponse, newId, type LimitOverrides, type User } from '@qv/contracts';
import { apiKeyPrefix, generateApiKey, hashApiKey, Prisma, type PrismaClient } from '@qv/db';
import { parseOr400 } from '@qv/http';
import { Router } from 'express';
import { z } from 'zod';
import type { PrincipalResolver } from '../../repositories/auth.repository';
import { admin, authed, documented, edge, error, json, named, notFound, on, userId, validation, type RouteDoc } from '../../openapi/route-doc';

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

/** The OpenAPI description of each route of this file (see openapi/route-doc.ts). */
export const usersRouteDocs = {
  createUser: {
    method: 'post',
    path: '/admin/users',
    operationId: 'createUser',
    tags: ['admin'],
    summary: 'Create a user and its API key',
    security: authed,
    request: { body: { required: true, content: json(named('CreateUserBody', CreateUserBody)) } },
    responses: {
      201: { description: 'The user and its API key; the key is shown this once and stored hashed.', content: json(documented(CreateUserResponse)) },
      ...validation,
      ...admin,
      409: error('CONFLICT: a user with this email exists.'),
    },
  },
  findUsers: {
    method: 'get',
    path: '/admin/users',
    operationId: 'findUsers',
    tags: ['admin'],
    summary: 'Find a user by email',
    description: 'Emails are unique and compared lower-cased, so the list holds none or one user.',
    security: authed,
    request: { query: FindUsersQuery },
    responses: { 200: { description: 'The users with this email.', content: json(documented(UsersResponse)) }, ...validation, ...admin },
  },
  getUser: {
    method: 'get',
    path: '/admin/users/{id}',
    operationId: 'getUser',
    tags: ['admin'],
    summary: 'One user, with plan and overrides',
    security: authed,
    request: { params: userId },
    responses: { 200: { description: 'The user.', content: json(documented(UserResponse)) }, ...edge, ...admin, ...notFound('user') },
  },
  updateUser: {
    method: 'patch',
    path: '/admin/users/{id}',
    operationId: 'updateUser',
    tags: ['admin'],
    summary: "Change a user's email, plan or limit overrides",
    description: '`overrides` replaces the user’s overrides as a whole; `{}` removes them; a limit set to null is unlimited.',
    security: authed,
    request: { params: userId, body: { required: true, content: json(named('PatchUserBody', PatchUserBody)) } },
    responses: {
      200: { description: 'The user as changed.', content: json(documented(UserResponse)) },
      ...validation,
      ...admin,
      ...notFound('user'),
      409: error('CONFLICT: a user with this email exists.'),
    },
  },
} satisfies Record<string, RouteDoc>;

/**
 * Users and their plans; the API key is returned once and stored hashed. A new key and a changed
 * plan are announced to every replica's principal cache (PrincipalResolver).
 */
export function adminUsersRoutes(deps: { prisma: PrismaClient; principals: Pick<PrincipalResolver, 'announce'> }): Router {
  const { prisma, principals } = deps;
  const router = Router();

  on(router, usersRouteDocs.createUser, async (req, res) => {
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
  on(router, usersRouteDocs.findUsers, async (req, res) => {
    const { email } = parseOr400(FindUsersQuery, req.query, 'query');
    const rows = await prisma.user.findMany({ where: { email }, include: { overrides: true }, take: 1 });
    res.json({ users: rows.map(presentUser) });
  });

  on(router, usersRouteDocs.getUser, async (req, res) => {
    const user = await prisma.user.findUnique({ where: { id: req.params.id }, include: { overrides: true } });
    if (!user) throw new NotFoundError('User');
    res.json({ user: presentUser(user) });
  });

  on(router, usersRouteDocs.updateUser, async (req, res) => {
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
    // Every replica forgets the user's principal and any refusal it keeps for them (RefusalMemo): new limits apply at once.
    if (body.plan || body.overrides) await principals.announce({ userId: id });
    res.json({ user: presentUser(user) });
  });

  return router;
}
