import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { cacheRouteDocs } from '../routes/admin/cache.routes';
import { dlqRouteDocs } from '../routes/admin/dlq.routes';
import { keysRouteDocs } from '../routes/admin/keys.routes';
import { ledgerRouteDocs } from '../routes/admin/ledger.routes';
import { overviewRouteDocs } from '../routes/admin/overview.routes';
import { plansRouteDocs } from '../routes/admin/plans.routes';
import { usersRouteDocs } from '../routes/admin/users.routes';
import { itemsRouteDocs } from '../routes/items.routes';
import { quotaRouteDocs } from '../routes/quota.routes';
import { usageRouteDocs } from '../routes/usage.routes';
import { registerAnthropicMessages, registerChatCompletions, registerModels } from './chat-completions.openapi';
import { openApiRouteDocs } from './openapi.routes';
import { authed, edge, headerRefs, json, QUOTA_HEADERS, retryAfter, RETRY_AFTER_DESCRIPTION, type RouteDoc } from './route-doc';

export { QUOTA_HEADERS } from './route-doc';

/** The parts of an OpenAPI 3.1 document the docs page and the tests read. */
export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

const text = (description: string, mediaType: string): ResponseConfig => ({ description, content: { [mediaType]: { schema: { type: 'string' } } } });
const Readiness = z.object({ status: z.enum(['ready', 'not_ready']), checks: z.record(z.string(), z.string()) });

/** Liveness and readiness: served by libs/http's createHttpApp in every service, described here for api-service's. */
const operationsDocs = {
  getHealth: {
    method: 'get',
    path: '/healthz',
    operationId: 'getHealth',
    tags: ['operations'],
    summary: 'Liveness: the process answers',
    security: [],
    responses: { 200: { description: 'Alive.', content: json(z.object({ status: z.literal('ok'), service: z.string() })) }, ...edge },
  },
  getReadiness: {
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
  },
} satisfies Record<string, RouteDoc>;

/** Every route's description, each written beside its handler (routes/*.routes.ts, openapi.routes.ts). */
function routeDocs(): RouteDoc[] {
  return [
    ...Object.values(itemsRouteDocs),
    ...Object.values(quotaRouteDocs),
    ...Object.values(usageRouteDocs),
    ...Object.values(usersRouteDocs),
    ...Object.values(keysRouteDocs),
    ...Object.values(plansRouteDocs),
    ...Object.values(dlqRouteDocs),
    ...Object.values(cacheRouteDocs),
    ...Object.values(ledgerRouteDocs),
    ...Object.values(overviewRouteDocs),
    ...Object.values(operationsDocs),
    ...Object.values(openApiRouteDocs),
  ];
}

/**
 * Builds the OpenAPI 3.1 document of the public API (DESIGN.md §4) from the routes' own
 * descriptions and the zod schemas of libs/contracts, so the document cannot describe a body the
 * routes would not accept. Pure: no I/O, safe to call at start-up or in a unit test.
 */
export function buildOpenApiDocument(options: { version?: string; serverUrl?: string } = {}): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key: `Authorization: Bearer <key>`. Admin routes need a key whose user has the admin role.',
  });
  registry.registerComponent('securitySchemes', 'anthropicApiKey', {
    type: 'apiKey',
    in: 'header',
    name: 'x-api-key',
    description: 'An API key as Anthropic’s SDK sends it (`POST /v1/messages` only).',
  });
  for (const [name, description] of Object.entries(QUOTA_HEADERS)) registry.registerComponent('headers', name, { description, schema: { type: 'string', pattern: '^-?[0-9]+$' } });
  registry.registerComponent('headers', 'Retry-After', { description: RETRY_AFTER_DESCRIPTION, schema: { type: 'string', pattern: '^[0-9]+$' } });

  for (const doc of routeDocs()) registry.registerPath(doc);
  registerChatCompletions(registry, { security: authed, quotaHeaders: headerRefs, retryAfter });
  registerAnthropicMessages(registry, { security: authed, quotaHeaders: headerRefs, retryAfter });
  registerModels(registry, { security: authed, quotaHeaders: headerRefs, retryAfter });

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
