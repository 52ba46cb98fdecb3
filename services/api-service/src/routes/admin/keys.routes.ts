import { ApiKeysResponse, CreateApiKeyResponse, newId, NotFoundError } from '@qv/contracts';
import { API_KEY_COLUMNS, apiKeyPrefix, generateApiKey, hashApiKey, type SqlPort } from '@qv/db/sql';
import { Router } from 'express';
import type { PrincipalResolver } from '../../repositories/auth.repository';
import { admin, authed, edge, json, notFound, on, userId, type RouteDoc } from '../../openapi/route-doc';
import { z } from 'zod';

interface KeyRow {
  id: string;
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
}

/** The OpenAPI description of each route of this file (see openapi/route-doc.ts). */
export const keysRouteDocs = {
  listApiKeys: {
    method: 'get',
    path: '/admin/users/{id}/keys',
    operationId: 'listApiKeys',
    tags: ['admin'],
    summary: "A user's API keys (prefix only; keys are stored hashed)",
    security: authed,
    request: { params: userId },
    responses: { 200: { description: 'The keys, oldest first.', content: json(ApiKeysResponse) }, ...edge, ...admin, ...notFound('user') },
  },
  createApiKey: {
    method: 'post',
    path: '/admin/users/{id}/keys',
    operationId: 'createApiKey',
    tags: ['admin'],
    summary: 'Issue another API key (rotation: issue, deploy, revoke the old one)',
    security: authed,
    request: { params: userId },
    responses: { 201: { description: 'The key, shown this once.', content: json(CreateApiKeyResponse) }, ...edge, ...admin, ...notFound('user') },
  },
  revokeApiKey: {
    method: 'delete',
    path: '/admin/users/{id}/keys/{keyId}',
    operationId: 'revokeApiKey',
    tags: ['admin'],
    summary: 'Revoke an API key (every replica refuses it within AUTH_CACHE_TTL_MS)',
    security: authed,
    request: { params: z.object({ id: z.string(), keyId: z.string() }) },
    responses: { 204: { description: 'Revoked (also when it already was).' }, ...edge, ...admin, ...notFound('API key') },
  },
} satisfies Record<string, RouteDoc>;

/**
 * A user's API keys: list, issue another (for rotation: issue, deploy, then revoke the old one),
 * revoke. Keys are stored hashed and shown once. A revocation is refused at once by this replica
 * and by the others as soon as the eviction reaches them over Redis, at the latest after
 * AUTH_CACHE_TTL_MS (PrincipalResolver); a new key is forgotten as unknown the same way, so it
 * works at once.
 */
export function adminKeysRoutes(deps: { db: SqlPort; principals: Pick<PrincipalResolver, 'announce'> }): Router {
  const { db, principals } = deps;
  const router = Router();
  const present = (k: KeyRow) => ({
    id: k.id,
    prefix: k.prefix,
    createdAt: k.createdAt.toISOString(),
    revokedAt: k.revokedAt?.toISOString() ?? null,
  });
  const assertUser = async (id: string) => {
    if (!(await db.query(`SELECT 1 FROM users WHERE id = $1`, [id])).rows.length) throw new NotFoundError('User');
  };

  on(router, keysRouteDocs.listApiKeys, async (req, res) => {
    await assertUser(req.params.id);
    const { rows: keys } = await db.query<KeyRow>(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at`, [req.params.id]);
    res.json({ keys: keys.map(present) });
  });

  on(router, keysRouteDocs.createApiKey, async (req, res) => {
    await assertUser(req.params.id);
    const apiKey = generateApiKey();
    const keyHash = hashApiKey(apiKey);
    const [key] = (
      await db.query<KeyRow>(`INSERT INTO api_keys (id, user_id, key_hash, prefix) VALUES ($1, $2, $3, $4) RETURNING ${API_KEY_COLUMNS}`, [
        newId('key'),
        req.params.id,
        keyHash,
        apiKeyPrefix(apiKey),
      ])
    ).rows;
    await principals.announce({ keyHash });
    res.status(201).json({ key: present(key), apiKey });
  });

  on(router, keysRouteDocs.revokeApiKey, async (req, res) => {
    const [key] = (await db.query<{ keyHash: string }>(`SELECT key_hash AS "keyHash" FROM api_keys WHERE id = $1 AND user_id = $2`, [req.params.keyId, req.params.id])).rows;
    if (!key) throw new NotFoundError('API key');
    await db.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`, [req.params.keyId, req.params.id]);
    // Also when it was revoked already: a replica may still hold it if an earlier eviction was lost.
    await principals.announce({ keyHash: key.keyHash });
    res.status(204).end();
  });

  return router;
}
