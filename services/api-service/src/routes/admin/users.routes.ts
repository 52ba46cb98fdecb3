import { AppError, CreateUserBody, CreateUserResponse, Email, NotFoundError, PatchUserBody, UserResponse, UsersResponse, newId, type LimitOverrides, type User } from '@qv/contracts';
import type { Pool } from 'pg';
import { apiKeyPrefix, generateApiKey, hashApiKey, inSqlTransaction, type SqlPort } from '@qv/db/sql';
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

interface UserWithOverrides {
  id: string;
  email: string | null;
  planId: string;
  role: string;
  limits: unknown;
  createdAt: Date;
}

/** A user and its overrides' limits (null without a row), by `WHERE` on `users u`. */
const USER_WITH_OVERRIDES = `SELECT u.id, u.email, u.plan_id AS "planId", u.role, o.limits, u.created_at AS "createdAt"
  FROM users u LEFT JOIN user_quota_overrides o ON o.user_id = u.id`;

async function findUser(db: SqlPort, id: string): Promise<UserWithOverrides | undefined> {
  return (await db.query<UserWithOverrides>(`${USER_WITH_OVERRIDES} WHERE u.id = $1`, [id])).rows[0];
}

function presentUser(row: UserWithOverrides): User {
  return {
    id: row.id,
    email: row.email,
    plan: row.planId,
    role: row.role === 'admin' ? 'admin' : 'user',
    overrides: (row.limits ?? {}) as LimitOverrides,
    createdAt: row.createdAt.toISOString(),
  };
}

async function assertPlanExists(db: SqlPort, planId: string): Promise<void> {
  if (!(await db.query(`SELECT 1 FROM plans WHERE id = $1`, [planId])).rows.length) {
    throw new AppError('VALIDATION_FAILED', `Unknown plan ${planId}`, { details: [{ path: ['plan'], code: 'unknown_plan', message: `Unknown plan ${planId}` }] });
  }
}

function uniqueEmailViolation(err: unknown): never {
  // unique_violation: the email is the users' one unique column a request sets.
  if ((err as { code?: string }).code === '23505') throw new AppError('CONFLICT', 'A user with this email exists');
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
    description:
      '`overrides` replaces the user’s overrides as a whole; `{}` removes them. `mergeOverrides` sets the limits it names and `removeOverrides` takes the named ones away (the plan’s limit applies again), keeping the others, atomically (two operators changing different limits at once both land). A limit set to null is unlimited.',
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
export function adminUsersRoutes(deps: { db: Pool; principals: Pick<PrincipalResolver, 'announce'> }): Router {
  const { db, principals } = deps;
  const router = Router();

  on(router, usersRouteDocs.createUser, async (req, res) => {
    const body = parseOr400(CreateUserBody, req.body);
    await assertPlanExists(db, body.plan);
    const apiKey = generateApiKey();
    const keyHash = hashApiKey(apiKey);
    const id = newId('usr');
    const user = await inSqlTransaction(db, async (tx) => {
      await tx.query(`INSERT INTO users (id, email, plan_id, role) VALUES ($1, $2, $3, $4)`, [id, body.email ?? null, body.plan, body.role ?? 'user']);
      await tx.query(`INSERT INTO api_keys (id, user_id, key_hash, prefix) VALUES ($1, $2, $3, $4)`, [newId('key'), id, keyHash, apiKeyPrefix(apiKey)]);
      if (body.overrides && Object.keys(body.overrides).length) await tx.query(`INSERT INTO user_quota_overrides (user_id, limits) VALUES ($1, $2::jsonb)`, [id, JSON.stringify(body.overrides)]);
      return (await findUser(tx, id))!;
    }).catch(uniqueEmailViolation);
    await principals.announce({ keyHash });
    res.status(201).json({ user: presentUser(user), apiKey });
  });

  // Emails are stored lower-cased (Email) and unique: the answer holds none or one user.
  on(router, usersRouteDocs.findUsers, async (req, res) => {
    const { email } = parseOr400(FindUsersQuery, req.query, 'query');
    const { rows } = await db.query<UserWithOverrides>(`${USER_WITH_OVERRIDES} WHERE u.email = $1 LIMIT 1`, [email]);
    res.json({ users: rows.map(presentUser) });
  });

  on(router, usersRouteDocs.getUser, async (req, res) => {
    const user = await findUser(db, req.params.id);
    if (!user) throw new NotFoundError('User');
    res.json({ user: presentUser(user) });
  });

  on(router, usersRouteDocs.updateUser, async (req, res) => {
    const body = parseOr400(PatchUserBody, req.body);
    if (body.plan) await assertPlanExists(db, body.plan);
    const id = req.params.id;
    const user = await inSqlTransaction(db, async (tx) => {
      const changed = await tx.query(`UPDATE users SET plan_id = coalesce($2, plan_id), email = coalesce($3, email) WHERE id = $1 RETURNING 1`, [id, body.plan ?? null, body.email ?? null]);
      if (!changed.rows.length) throw new NotFoundError('User');
      if (body.overrides) {
        await tx.query(
          `INSERT INTO user_quota_overrides (user_id, limits) VALUES ($1, $2::jsonb)
           ON CONFLICT (user_id) DO UPDATE SET limits = EXCLUDED.limits, updated_at = now()`,
          [id, JSON.stringify(body.overrides)],
        );
      }
      if (body.mergeOverrides || body.removeOverrides) {
        // Merged on the row under its lock, not read and written back by the caller: no change is lost.
        await tx.query(
          `INSERT INTO user_quota_overrides AS o (user_id, limits) VALUES ($1, $2::jsonb)
           ON CONFLICT (user_id) DO UPDATE SET limits = (o.limits || EXCLUDED.limits) - $3::text[], updated_at = now()`,
          [id, JSON.stringify(body.mergeOverrides ?? {}), body.removeOverrides ?? []],
        );
      }
      return (await findUser(tx, id))!;
    }).catch(uniqueEmailViolation);
    // Every replica forgets the user's principal and any refusal it keeps for them (RefusalMemo): new limits apply at once.
    if (body.plan || body.overrides || body.mergeOverrides || body.removeOverrides) await principals.announce({ userId: id });
    res.json({ user: presentUser(user) });
  });

  return router;
}
