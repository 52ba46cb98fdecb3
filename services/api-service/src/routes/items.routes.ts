import { AppError, CreateItemBody, IdempotencyKeyHeader, ListItemsQuery, NotFoundError } from '@qv/contracts';
import { parseOr400, type KeyedGate } from '@qv/http';
import { Router } from 'express';
import { presentItem } from '../domain/present-item';
import { quotaHeaders } from '../domain/quota-headers';
import { requestHash } from '../domain/request-hash';
import { createItem, type CreateItemDeps } from '../use-cases/create-item';
import { runIdempotent, type StoredResponse } from '../use-cases/idempotency';
import { principalOf } from './auth.middleware';

export interface ItemsRouteDeps extends CreateItemDeps {
  idempotency: { ttlHours: number; lockSeconds: number };
  /** One user's accepts at a time on this replica: a burst waits in its own line (or gets its own 429), never in front of other users'. */
  admission: KeyedGate;
}

export function itemsRoutes(deps: ItemsRouteDeps): Router {
  const router = Router();

  router.post('/v1/items', async (req, res) => {
    const principal = principalOf(res);
    const body = parseOr400(CreateItemBody, req.body);
    const rawKey = req.header('idempotency-key');

    const accept = async (itemId?: string): Promise<StoredResponse> => {
      try {
        const result = await createItem(deps, principal, body, itemId);
        return { status: 202, body: result, headers: quotaHeaders(result.quota) };
      } catch (err) {
        // 429s carry the quota status; its headers go on the refusal too (DESIGN.md §4).
        const status = err instanceof AppError ? (err.details as Parameters<typeof quotaHeaders>[0] | undefined) : undefined;
        if (status?.quotas) res.set(quotaHeaders(status));
        throw err;
      }
    };

    const key = rawKey === undefined ? undefined : parseOr400(IdempotencyKeyHeader, rawKey, 'Idempotency-Key header');
    const response: StoredResponse & { replayed?: boolean } = await deps.admission.run(principal.userId, () =>
      key === undefined
        ? accept()
        : runIdempotent(deps.prisma, { userId: principal.userId, key, requestHash: requestHash('POST', '/v1/items', req.body), ...deps.idempotency }, (itemId) => accept(itemId)),
    );
    if (response.replayed) res.set('Idempotent-Replayed', 'true');
    res.status(response.status).set(response.headers).json(response.body);
  });

  router.get('/v1/items/:id', async (req, res) => {
    const principal = principalOf(res);
    const row = await deps.prisma.item.findFirst({ where: { id: req.params.id, userId: principal.userId } });
    if (!row) throw new NotFoundError('Item');
    res.json({ item: presentItem(row) });
  });

  router.get('/v1/items', async (req, res) => {
    const principal = principalOf(res);
    const query = parseOr400(ListItemsQuery, req.query, 'query');
    const rows = await deps.prisma.item.findMany({
      where: { userId: principal.userId, ...(query.cursor ? { id: { lt: query.cursor } } : {}) },
      orderBy: { id: 'desc' },
      take: query.limit + 1,
    });
    const page = rows.slice(0, query.limit);
    res.json({ items: page.map(presentItem), nextCursor: rows.length > query.limit ? page[page.length - 1].id : null });
  });

  return router;
}
