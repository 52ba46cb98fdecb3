import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig } from '@asteasolutions/zod-to-openapi';
import {
  CachePurgeBody,
  CachePurgeResponse,
  CacheStats,
  CacheTier,
  CreateItemBody,
  CreateUserBody,
  DlqEntry,
  DlqFilter,
  ErrorBody,
  IdempotencyKeyHeader,
  Item,
  ListItemsQuery,
  PatchUserBody,
  Plan,
  PlanId,
  PlanUpdate,
  QuotaStatus,
  ReconciliationRow,
  ReplayAllBody,
  ReplayBody,
  User,
} from '@qv/contracts';
import { z } from 'zod';
import { ReconcileQuery } from '../routes/admin/ledger.routes';
import { Overview } from '../routes/admin/overview.routes';
import { FindUsersQuery } from '../routes/admin/users.routes';
import { UsageQuery } from '../routes/usage.routes';
import { registerChatCompletions } from './chat-completions.openapi';

/** The parts of an OpenAPI 3.1 document the docs page and the tests read. */
export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

/** The quota headers of DESIGN.md §4, on `POST /v1/items` (202 and 429) and `GET /v1/quota`. */
export const QUOTA_HEADERS: Record<string, string> = {
  'X-AI-Quota-Limit': 'Enrichments allowed today (UTC); -1 is unlimited.',
  'X-AI-Quota-Remaining': 'Enrichments left today; -1 is unlimited.',
  'X-AI-Quota-Reset': 'When the daily enrichment count resets, in epoch seconds.',
  'X-AI-Quota-Tokens-Limit': 'Tokens allowed today (UTC); -1 is unlimited.',
  'X-AI-Quota-Tokens-Remaining': 'Tokens left today; -1 is unlimited.',
  'X-AI-Quota-Concurrency-Limit': 'Enrichment jobs allowed in flight at once; -1 is unlimited.',
  'X-AI-Quota-Concurrency-Remaining': 'Further jobs that may start now; -1 is unlimited.',
};

// Response bodies the routes build inline; kept here, beside the contract they document, until a
// client needs them as types (then they belong in libs/contracts).
const UsageEntry = z.object({
  id: z.string(),
  eventId: z.string(),
  itemId: z.string(),
  kind: z.string(),
  model: z.string().nullable(),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  totalTokens: z.number().int(),
  costUsd: z.number(),
  cacheTier: CacheTier.nullable(),
  cacheHit: z.boolean(),
  tokensSaved: z.number().int(),
  costSavedUsd: z.number(),
  /** False for ops replays not charged to the user (DESIGN.md §5). */
  charged: z.boolean(),
  createdAt: z.string(),
});
const UsageTotals = z.object({ entries: z.number().int(), tokens: z.number().int(), costUsd: z.number(), tokensSaved: z.number().int() });
const ReplayResult = z.object({ jobId: z.string(), newJobId: z.string(), charged: z.boolean() });
const UsageReportRow = z.object({
  plan: z.string(),
  model: z.string().nullable(),
  day: z.string(),
  calls: z.number().int(),
  tokens: z.number().int(),
  costUsd: z.number(),
  cacheHits: z.number().int(),
  tokensSaved: z.number().int(),
  costSavedUsd: z.number(),
});

const json = (schema: z.ZodType) => ({ 'application/json': { schema } });

/**
 * A copy of `schema` that the generator emits once under components/schemas/<id> and references
 * by `$ref`. zod's own `.meta({ id })` rather than the library's `.openapi()`: zod 4 gives each
 * schema its methods when it is built, so `.openapi()` would exist only on schemas built after
 * `extendZodWithOpenApi`, which the contracts' are not. The contracts' schemas stay untouched.
 */
const named = <T extends z.ZodType>(id: string, schema: T): T => schema.meta({ id }) as T;

/**
 * Builds the OpenAPI 3.1 document of the public API (DESIGN.md §4) from the zod schemas of
 * libs/contracts, so the document cannot describe a body the routes would not accept. Pure: no
 * I/O, safe to call at start-up or in a unit test.
 */
export function buildOpenApiDocument(options: { version?: string; serverUrl?: string } = {}): OpenApiDocument {
  const registry = new OpenAPIRegistry();

  const bearer = registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key: `Authorization: Bearer <key>`. Admin routes need a key whose user has the admin role.',
  });
  const authed = [{ [bearer.name]: [] }];

  const ErrorSchema = named('ErrorBody', ErrorBody);
  const ItemSchema = named('Item', Item);
  const Quota = named('QuotaStatus', QuotaStatus);
  const UserSchema = named('User', User);
  const PlanSchema = named('Plan', Plan);
  const Dlq = named('DlqEntry', DlqEntry);
  const Usage = named('UsageEntry', UsageEntry);
  const Reconciliation = named('ReconciliationRow', ReconciliationRow);
  const Stats = named('CacheStats', CacheStats);

  const headerRefs: Record<string, { $ref: string }> = {};
  for (const [name, description] of Object.entries(QUOTA_HEADERS)) {
    headerRefs[name] = registry.registerComponent('headers', name, { description, schema: { type: 'string', pattern: '^-?[0-9]+$' } }).ref;
  }
  const retryAfter = registry.registerComponent('headers', 'Retry-After', {
    description: 'Seconds until the refused request may succeed (the limit that refused it frees).',
    schema: { type: 'string', pattern: '^[0-9]+$' },
  }).ref;

  const error = (description: string, extra: Partial<ResponseConfig> = {}): ResponseConfig => ({ description, content: json(ErrorSchema), ...extra });
  const common = {
    401: error('UNAUTHENTICATED: no API key, or an unknown or revoked one.'),
    429: error('AUTH_RATE_LIMITED: too many failed authentications from this client; wait Retry-After seconds.', { headers: { 'Retry-After': retryAfter } }),
    500: error('INTERNAL: an unexpected fault; the message never carries internals.'),
  };
  const validation = { 400: error('VALIDATION_FAILED: the body, query or path did not parse; `details` holds the zod issues.') };
  // Routes without a schema of their own: the edge guard (libs/http) still refuses, before the route
  // runs, a path or query with NUL, a lone surrogate or invalid percent-encoding.
  const edge = { 400: error('VALIDATION_FAILED: the path or query holds NUL, a lone surrogate or invalid percent-encoding (refused before the route runs).') };
  const admin = { ...common, 403: error('FORBIDDEN: the key is not an admin key.') };
  const notFound = (what: string) => ({ 404: error(`NOT_FOUND: no such ${what}.`) });

  // ---- items ---------------------------------------------------------------------------------
  registry.registerPath({
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
        description: 'Accepted: charged, stored and enqueued.',
        headers: {
          ...headerRefs,
          'Idempotent-Replayed': { description: '`true` when this is the stored answer to an earlier request with the same key.', schema: { type: 'string', enum: ['true'] } },
        },
        content: json(z.object({ item: ItemSchema, quota: Quota })),
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
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/items',
    operationId: 'listItems',
    tags: ['items'],
    summary: "List the caller's items, newest first",
    security: authed,
    request: { query: ListItemsQuery },
    responses: {
      200: { description: 'One page; pass `nextCursor` as `cursor` for the next (null on the last page).', content: json(z.object({ items: z.array(ItemSchema), nextCursor: z.string().nullable() })) },
      ...validation,
      ...common,
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/items/{id}',
    operationId: 'getItem',
    tags: ['items'],
    summary: 'One of the caller’s items, with its enrichment once DONE',
    security: authed,
    request: { params: z.object({ id: z.string().meta({ example: 'itm_01J0000000000000000000000' }) }) },
    responses: {
      200: { description: 'The item.', content: json(z.object({ item: ItemSchema })) },
      ...edge,
      ...common,
      ...notFound('item (another user’s item is not found either)'),
    },
  });

  registerChatCompletions(registry, { security: authed, quotaHeaders: headerRefs, retryAfter });

  // ---- quota and usage -----------------------------------------------------------------------
  registry.registerPath({
    method: 'get',
    path: '/v1/quota',
    operationId: 'getQuota',
    tags: ['quota'],
    summary: 'The status of every quota of the caller',
    security: authed,
    responses: {
      200: { description: 'Used, limit, remaining, reset time and level of each limit; `level` is the worst of them.', headers: headerRefs, content: json(Quota) },
      ...edge,
      ...common,
      503: error('QUOTA_SERVICE_UNAVAILABLE.'),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/usage',
    operationId: 'listUsage',
    tags: ['usage'],
    summary: "The caller's ledger entries, newest first",
    security: authed,
    request: { query: UsageQuery },
    responses: {
      200: {
        description: 'One page of ledger entries, and the charged totals for today and this month (UTC).',
        content: json(z.object({ entries: z.array(Usage), nextCursor: z.string().nullable(), totals: z.object({ today: UsageTotals, month: UsageTotals }) })),
      },
      ...validation,
      ...common,
    },
  });

  // ---- admin: users and plans ----------------------------------------------------------------
  registry.registerPath({
    method: 'post',
    path: '/admin/users',
    operationId: 'createUser',
    tags: ['admin'],
    summary: 'Create a user and its API key',
    security: authed,
    request: { body: { required: true, content: json(named('CreateUserBody', CreateUserBody)) } },
    responses: {
      201: { description: 'The user and its API key; the key is shown this once and stored hashed.', content: json(z.object({ user: UserSchema, apiKey: z.string() })) },
      ...validation,
      ...admin,
      409: error('CONFLICT: a user with this email exists.'),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/admin/users',
    operationId: 'findUsers',
    tags: ['admin'],
    summary: 'Find a user by email',
    description: 'Emails are unique and compared lower-cased, so the list holds none or one user.',
    security: authed,
    request: { query: FindUsersQuery },
    responses: { 200: { description: 'The users with this email.', content: json(z.object({ users: z.array(UserSchema) })) }, ...validation, ...admin },
  });

  const userId = z.object({ id: z.string() });
  registry.registerPath({
    method: 'get',
    path: '/admin/users/{id}',
    operationId: 'getUser',
    tags: ['admin'],
    summary: 'One user, with plan and overrides',
    security: authed,
    request: { params: userId },
    responses: { 200: { description: 'The user.', content: json(z.object({ user: UserSchema })) }, ...edge, ...admin, ...notFound('user') },
  });

  registry.registerPath({
    method: 'patch',
    path: '/admin/users/{id}',
    operationId: 'updateUser',
    tags: ['admin'],
    summary: "Change a user's email, plan or limit overrides",
    description: '`overrides` replaces the user’s overrides as a whole; `{}` removes them; a limit set to null is unlimited.',
    security: authed,
    request: { params: userId, body: { required: true, content: json(named('PatchUserBody', PatchUserBody)) } },
    responses: {
      200: { description: 'The user as changed.', content: json(z.object({ user: UserSchema })) },
      ...validation,
      ...admin,
      ...notFound('user'),
      409: error('CONFLICT: a user with this email exists.'),
    },
  });

  const ApiKeyInfo = z.object({ id: z.string(), prefix: z.string(), createdAt: z.string(), revokedAt: z.string().nullable() });
  registry.registerPath({
    method: 'get',
    path: '/admin/users/{id}/keys',
    operationId: 'listApiKeys',
    tags: ['admin'],
    summary: "A user's API keys (prefix only; keys are stored hashed)",
    security: authed,
    request: { params: userId },
    responses: { 200: { description: 'The keys, oldest first.', content: json(z.object({ keys: z.array(ApiKeyInfo) })) }, ...edge, ...admin, ...notFound('user') },
  });
  registry.registerPath({
    method: 'post',
    path: '/admin/users/{id}/keys',
    operationId: 'createApiKey',
    tags: ['admin'],
    summary: 'Issue another API key (rotation: issue, deploy, revoke the old one)',
    security: authed,
    request: { params: userId },
    responses: { 201: { description: 'The key, shown this once.', content: json(z.object({ key: ApiKeyInfo, apiKey: z.string() })) }, ...edge, ...admin, ...notFound('user') },
  });
  registry.registerPath({
    method: 'delete',
    path: '/admin/users/{id}/keys/{keyId}',
    operationId: 'revokeApiKey',
    tags: ['admin'],
    summary: 'Revoke an API key (every replica refuses it within AUTH_CACHE_TTL_MS)',
    security: authed,
    request: { params: z.object({ id: z.string(), keyId: z.string() }) },
    responses: { 204: { description: 'Revoked (also when it already was).' }, ...edge, ...admin, ...notFound('API key') },
  });

  registry.registerPath({
    method: 'get',
    path: '/admin/plans',
    operationId: 'listPlans',
    tags: ['admin'],
    summary: 'Every plan and its limits',
    security: authed,
    responses: { 200: { description: 'The plans, by id.', content: json(z.object({ plans: z.array(PlanSchema) })) }, ...edge, ...admin },
  });

  registry.registerPath({
    method: 'put',
    path: '/admin/plans/{id}',
    operationId: 'updatePlan',
    tags: ['admin'],
    summary: "Edit a plan's limits",
    description: 'New charges see the new limits at once. A limit set to null is unlimited (or, for the TTLs, no cache).',
    security: authed,
    request: { params: z.object({ id: PlanId }), body: { required: true, content: json(named('PlanUpdate', PlanUpdate)) } },
    responses: { 200: { description: 'The plan as changed.', content: json(z.object({ plan: PlanSchema })) }, ...validation, ...admin, ...notFound('plan') },
  });

  // ---- admin: dead letters -------------------------------------------------------------------
  registry.registerPath({
    method: 'get',
    path: '/admin/dlq',
    operationId: 'listDeadLetters',
    tags: ['admin'],
    summary: 'Dead-lettered enrichment jobs',
    security: authed,
    request: { query: DlqFilter },
    responses: { 200: { description: 'The jobs matching the filter.', content: json(z.object({ jobs: z.array(Dlq) })) }, ...validation, ...admin },
  });

  const jobId = z.object({ jobId: z.string() });
  registry.registerPath({
    method: 'get',
    path: '/admin/dlq/{jobId}',
    operationId: 'getDeadLetter',
    tags: ['admin'],
    summary: 'One dead-lettered job, with its error history',
    security: authed,
    request: { params: jobId },
    responses: { 200: { description: 'The job.', content: json(z.object({ job: Dlq })) }, ...edge, ...admin, ...notFound('dead-letter job') },
  });

  registry.registerPath({
    method: 'post',
    path: '/admin/dlq/{jobId}/replay',
    operationId: 'replayDeadLetter',
    tags: ['admin'],
    summary: 'Replay one dead-lettered job under a new job id',
    description: 'The user is not charged again unless `chargeUser` is true; the tokens reach the ledger either way, marked as charged or not.',
    security: authed,
    request: { params: jobId, body: { required: false, content: json(named('ReplayBody', ReplayBody)) } },
    responses: {
      202: { description: 'Re-enqueued.', content: json(ReplayResult) },
      ...validation,
      ...admin,
      ...notFound('dead-letter job'),
      429: error('With `chargeUser`, the fresh charge was refused by a quota; or AUTH_RATE_LIMITED (too many failed authentications from this client).', { headers: { 'Retry-After': retryAfter } }),
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/admin/dlq/replay',
    operationId: 'replayDeadLetters',
    tags: ['admin'],
    summary: 'Replay every dead-lettered job matching a filter (user, time, error)',
    security: authed,
    request: { body: { required: false, content: json(named('ReplayAllBody', ReplayAllBody)) } },
    responses: {
      202: {
        description: 'What was re-enqueued, and what could not be (with the reason).',
        content: json(z.object({ replayed: z.array(ReplayResult), failed: z.array(z.object({ jobId: z.string(), error: z.string() })) })),
      },
      ...validation,
      ...admin,
    },
  });

  registry.registerPath({
    method: 'delete',
    path: '/admin/dlq/{jobId}',
    operationId: 'discardDeadLetter',
    tags: ['admin'],
    summary: 'Discard a dead-lettered job',
    security: authed,
    request: { params: jobId },
    responses: { 204: { description: 'Discarded.' }, ...edge, ...admin, ...notFound('dead-letter job') },
  });

  // ---- admin: cache and ledger ---------------------------------------------------------------
  const cacheDown = { 503: error('SERVICE_UNAVAILABLE: cache-service did not answer.', { headers: { 'Retry-After': retryAfter } }) };
  registry.registerPath({
    method: 'get',
    path: '/admin/cache/stats',
    operationId: 'getCacheStats',
    tags: ['admin'],
    summary: 'Per cache tier: entries, hits, misses, hit ratio, tokens saved, cost saved',
    security: authed,
    responses: { 200: { description: 'Statistics by tier.', content: json(Stats) }, ...edge, ...admin, ...cacheDown },
  });

  registry.registerPath({
    method: 'post',
    path: '/admin/cache/purge',
    operationId: 'purgeCache',
    tags: ['admin'],
    summary: 'Purge cache entries (a tier, a user, or everything)',
    security: authed,
    request: { body: { required: false, content: json(named('CachePurgeBody', CachePurgeBody)) } },
    responses: { 200: { description: 'How many entries were removed.', content: json(CachePurgeResponse) }, ...validation, ...admin, ...cacheDown },
  });

  registry.registerPath({
    method: 'get',
    path: '/admin/reconciliation',
    operationId: 'getReconciliation',
    tags: ['admin'],
    summary: 'Reserved, settled, ledger and counter tokens per user and day; drift is expected to be 0',
    security: authed,
    request: { query: ReconcileQuery },
    responses: {
      200: { description: 'One row per user and day, and the summed drift.', content: json(z.object({ rows: z.array(Reconciliation), totalDrift: z.number().int() })) },
      ...validation,
      ...admin,
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/admin/overview',
    operationId: 'getOverview',
    tags: ['admin'],
    summary: 'Queue depths, and the answers to POST /v1/items by status on this replica',
    description:
      'Queue depths are read from Redis (the same from every replica). `createRequests` counts this replica’s answers since it started; a rate is the difference between two readings. Prometheus has the sum over replicas.',
    security: authed,
    responses: { 200: { description: 'The overview.', content: json(named('Overview', Overview)) }, ...edge, ...admin, 503: error('SERVICE_UNAVAILABLE: Redis did not answer for the queue depths.') },
  });

  registry.registerPath({
    method: 'get',
    path: '/admin/reports/usage',
    operationId: 'getUsageReport',
    tags: ['admin'],
    summary: 'Usage per plan, model and day',
    security: authed,
    request: { query: z.object({ since: z.iso.date().optional() }) },
    responses: { 200: { description: 'Report rows.', content: json(z.object({ rows: z.array(UsageReportRow) })) }, ...validation, ...admin },
  });

  // ---- operations ----------------------------------------------------------------------------
  const text = (description: string, mediaType: string): ResponseConfig => ({ description, content: { [mediaType]: { schema: { type: 'string' } } } });
  registry.registerPath({
    method: 'get',
    path: '/healthz',
    operationId: 'getHealth',
    tags: ['operations'],
    summary: 'Liveness: the process answers',
    security: [],
    responses: { 200: { description: 'Alive.', content: json(z.object({ status: z.literal('ok'), service: z.string() })) }, ...edge },
  });
  const Readiness = z.object({ status: z.enum(['ready', 'not_ready']), checks: z.record(z.string(), z.string()) });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    operationId: 'getReadiness',
    tags: ['operations'],
    summary: 'Readiness: every dependency answers',
    security: [],
    responses: {
      200: { description: 'Every check is `ok`.', content: json(Readiness) },
      ...edge,
      503: { description: 'At least one check is `down: <reason>`.', content: json(Readiness) },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApiDocument',
    tags: ['operations'],
    summary: 'This document',
    security: [],
    responses: { 200: { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object' } } } }, ...edge },
  });
  registry.registerPath({
    method: 'get',
    path: '/docs',
    operationId: 'getDocsPage',
    tags: ['operations'],
    summary: 'This document as a readable page',
    security: [],
    responses: { 200: text('HTML.', 'text/html'), ...edge },
  });

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Quota Vault API',
      version: options.version ?? '1.0.0',
      license: { name: 'MIT', identifier: 'MIT' },
      description:
        'Every AI enrichment is charged against the caller’s plan before it is made and settled to the exact token count afterwards. ' +
        'Errors are always `{"error":{"code","message","details"?,"retryAfterSeconds"?}}`.',
    },
    // Relative by default: the document is served by the api-service it describes, so a client
    // resolves paths against wherever it fetched /openapi.json from.
    servers: [{ url: options.serverUrl ?? '/', description: options.serverUrl ? 'This api-service' : 'The api-service serving this document' }],
    security: authed,
    tags: [
      { name: 'items', description: 'Items and their enrichment' },
      { name: 'chat', description: 'The OpenAI-compatible synchronous path (errors in OpenAI’s shape)' },
      { name: 'quota', description: 'The caller’s quotas' },
      { name: 'usage', description: 'The caller’s ledger' },
      { name: 'admin', description: 'Users, plans, dead letters, cache, reconciliation (admin key)' },
      { name: 'operations', description: 'Health, readiness, this document (metrics are on the operations port, OPS_PORT, not here)' },
    ],
  });
}
