import { ITEM_COLUMNS, type ItemRow } from '@qv/db/sql';
import { AppError, httpStatusOf, CreateItemBody, CreateItemResponse, IdempotencyKeyHeader, ItemResponse, ItemsPage, ListItemsQuery, NotFoundError } from '@qv/contracts';
import { parseOr400, writeAnswer, type KeyedGate } from '@qv/http';
import { Router } from 'express';
import { presentItem } from '../domain/present-item';
import { quotaHeaders } from '../domain/quota-headers';
import { requestHash } from '../domain/request-hash';
import { createItem, type CreateItemDeps } from '../use-cases/create-item';
import { runIdempotent, type StoredResponse } from '../use-cases/idempotency';
import { principalOf } from './auth.middleware';
import { authed, common, documented, edge, error, headerRefs, json, named, notFound, on, retryAfter, validation, type RouteDoc } from '../openapi/route-doc';
import { z } from 'zod';

export interface ItemsRouteDeps extends CreateItemDeps {
  idempotency: { ttlHours: number; lockSeconds: number };
  /** One user's accepts at a time on this replica: a burst waits in its own line (or gets its own 429), never in front of other users'. */
  admission: KeyedGate;
}

/** The OpenAPI description of each route of this file (see openapi/route-doc.ts). */
export const itemsRouteDocs = {
  createItem: {
    method: 'post',
    path: '/v1/items',
    operationId: 'createItem',
    tags: ['items'],
    summary: 'Create an item and enqueue its enrichment',
    description:
      'Charges the quota first (fail closed: no AI spend without a charge), stores the item, enqueues its enrichment. ' +
      'With `Idempotency-Key`, a repeat of the same body returns the first response with `Idempotent-Replayed: true` and charges nothing.',
    security: authed,
    request: {
      headers: z.object({
        'Idempotency-Key': IdempotencyKeyHeader.optional().meta({ description: 'Makes retries safe; 1..255 characters, kept at least 24 hours.' }),
      }),
      body: { required: true, content: json(named('CreateItemBody', CreateItemBody)) },
    },
    responses: {
      202: {
        description: 'Accepted: charged and stored; its enrichment is enqueued as the answer leaves (by the outbox relay if the queue is down).',
        headers: {
          ...headerRefs,
          'Idempotent-Replayed': { description: '`true` when this is the stored answer to an earlier request with the same key.', schema: { type: 'string', enum: ['true'] } },
        },
        content: json(documented(CreateItemResponse)),
      },
      ...validation,
      ...common,
      409: error('IDEMPOTENCY_KEY_IN_USE: a request with this key is still being processed.'),
      413: error('PAYLOAD_TOO_LARGE: the body is over the size limit.'),
      422: error('IDEMPOTENCY_KEY_REUSED: this key was used with a different body.'),
      429: error('A quota refused the charge: CONCURRENCY_LIMIT_EXCEEDED, HOURLY_RATE_LIMIT_EXCEEDED, DAILY_QUOTA_EXCEEDED, DAILY_TOKEN_QUOTA_EXCEEDED or MONTHLY_TOKEN_QUOTA_EXCEEDED. The key is not used up. Before any charge: AUTH_RATE_LIMITED (too many failed authentications from this client) or USER_REQUEST_RATE_EXCEEDED (this user\'s requests arrive faster than they can be charged; Retry-After 1).', {
        headers: { 'Retry-After': retryAfter, ...headerRefs },
      }),
      503: error('QUOTA_SERVICE_UNAVAILABLE: the charge could not be made, so nothing was stored (fail closed).', { headers: { 'Retry-After': retryAfter } }),
    },
  },
  listItems: {
    method: 'get',
    path: '/v1/items',
    operationId: 'listItems',
    tags: ['items'],
    summary: "List the caller's items, newest first",
    security: authed,
    request: { query: ListItemsQuery },
    responses: {
      200: { description: 'One page; pass `nextCursor` as `cursor` for the next (null on the last page).', content: json(documented(ItemsPage)) },
      ...validation,
      ...common,
    },
  },
  getItem: {
    method: 'get',
    path: '/v1/items/{id}',
    operationId: 'getItem',
    tags: ['items'],
    summary: 'One of the caller’s items, with its enrichment once DONE',
    security: authed,
    request: { params: z.object({ id: z.string().meta({ example: 'itm_01J0000000000000000000000' }) }) },
    responses: {
      200: { description: 'The item.', content: json(documented(ItemResponse)) },
      ...edge,
      ...common,
      ...notFound('item (another user’s item is not found either)'),
    },
  },
} satisfies Record<string, RouteDoc>;

export function itemsRoutes(deps: ItemsRouteDeps): Router {
  const router = Router();

  on(router, itemsRouteDocs.createItem, async (req, res) => {
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
    const response: StoredResponse & { replayed?: boolean } = await deps.admission
      .run(principal.userId, () =>
        key === undefined
          ? accept()
          : runIdempotent(deps.db, { userId: principal.userId, key, requestHash: requestHash('POST', '/v1/items', req.body), ...deps.idempotency }, (itemId) => accept(itemId)),
      )
      .catch((err: unknown) => {
        // A 429 with no status of its own (the user's line full, here or in quota-service): the
        // headers of the user's latest charge answered on this replica.
        const latest = err instanceof AppError && httpStatusOf(err.code) === 429 && !res.hasHeader('X-AI-Quota-Limit') ? deps.quota.latest.recall(principal.userId) : undefined;
        if (latest) res.set(quotaHeaders(latest));
        throw err;
      });
    if (response.replayed) res.set('Idempotent-Replayed', 'true');
    // Written straight to node:http: Express's res.json (charset negotiation, freshness check) was a visible share of each accept.
    writeAnswer(res, { status: response.status, json: response.body }, response.headers);
  });

  on(router, itemsRouteDocs.getItem, async (req, res) => {
    const principal = principalOf(res);
    const [row] = (await deps.db.query<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE id = $1 AND user_id = $2`, [req.params.id, principal.userId])).rows;
    if (!row) throw new NotFoundError('Item');
    res.json({ item: presentItem(row) });
  });

  on(router, itemsRouteDocs.listItems, async (req, res) => {
    const principal = principalOf(res);
    const query = parseOr400(ListItemsQuery, req.query, 'query');
    const { rows } = await deps.db.query<ItemRow>(
      `SELECT ${ITEM_COLUMNS} FROM items WHERE user_id = $1 AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
      [principal.userId, query.cursor ?? null, query.limit + 1],
    );
    const page = rows.slice(0, query.limit);
    res.json({ items: page.map(presentItem), nextCursor: rows.length > query.limit ? page[page.length - 1].id : null });
  });

  return router;
}
