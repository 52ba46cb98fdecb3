import type { AddressInfo } from 'node:net';
import { CreateItemBody, ErrorCode } from '@qv/contracts';
import express, { type Express } from 'express';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createApp, type ApiDeps } from '../app';
import { adminCacheRoutes } from '../routes/admin/cache.routes';
import { adminDlqRoutes } from '../routes/admin/dlq.routes';
import { adminLedgerRoutes } from '../routes/admin/ledger.routes';
import { chatCompletionsRoutes } from '../routes/chat-completions.routes';
import { anthropicMessagesRoutes } from '../routes/anthropic-messages.routes';
import { modelsRoutes } from '../routes/models.routes';
import { adminOverviewRoutes } from '../routes/admin/overview.routes';
import { renderDocsPage } from './docs-page';
import { buildOpenApiDocument, QUOTA_HEADERS, type OpenApiDocument } from './openapi';
import { openApiRoutes } from './openapi.routes';

type Json = Record<string, any>;

/** DESIGN.md §4, route by route (plus the reads the admin API also has: a dead letter, usage reports, a user by email, the overview). */
const DESIGN_ROUTES: Record<string, string[]> = {
  '/v1/items': ['get', 'post'],
  '/v1/items/{id}': ['get'],
  '/v1/quota': ['get'],
  '/v1/usage': ['get'],
  '/v1/chat/completions': ['post'],
  '/v1/models': ['get'],
  // DESIGN.md §4: "and POST /v1/messages if it falls out of the same code" — it does (routes/anthropic-messages.routes.ts).
  '/v1/messages': ['post'],
  '/admin/users': ['get', 'post'],
  '/admin/users/{id}': ['get', 'patch'],
  '/admin/users/{id}/keys': ['get', 'post'],
  '/admin/users/{id}/keys/{keyId}': ['delete'],
  '/admin/plans': ['get'],
  '/admin/plans/{id}': ['put'],
  '/admin/dlq': ['get'],
  '/admin/dlq/{jobId}': ['delete', 'get'],
  '/admin/dlq/{jobId}/replay': ['post'],
  '/admin/dlq/replay': ['post'],
  '/admin/cache/stats': ['get'],
  '/admin/cache/purge': ['post'],
  '/admin/reconciliation': ['get'],
  '/admin/reports/usage': ['get'],
  '/admin/overview': ['get'],
  '/healthz': ['get'],
  '/readyz': ['get'],
  '/openapi.json': ['get'],
  '/docs': ['get'],
};
const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'trace'];
const ERROR_REF = '#/components/schemas/ErrorBody';
/** The paths the SDKs speak to, which answer the SDKs' own error shapes. */
const CHAT_PATHS = ['/v1/chat/completions', '/v1/messages', '/v1/models'];

const methodsOf = (paths: Json): Record<string, string[]> =>
  Object.fromEntries(Object.entries(paths).map(([path, item]) => [path, Object.keys(item).filter((k) => HTTP_METHODS.includes(k)).sort()]));

const operations = (doc: OpenApiDocument): Array<{ path: string; method: string; op: Json }> =>
  Object.entries(doc.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, op]) => ({ path, method, op: op as Json })),
  );

/** Every `$ref` anywhere in `value`. */
function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refsIn(v, found));
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === '$ref' && typeof v === 'string') found.push(v);
      else refsIn(v, found);
    }
  }
  return found;
}

/** The routes an Express 5 app really serves, as OpenAPI paths → sorted methods. */
function routesOf(app: Express): Record<string, string[]> {
  const routes: Record<string, Set<string>> = {};
  const walk = (stack: Json[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const path = String(layer.route.path).replace(/:(\w+)/g, '{$1}');
        for (const method of Object.keys(layer.route.methods)) (routes[path] ??= new Set()).add(method);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Json[] } }).router.stack);
  return Object.fromEntries(Object.entries(routes).map(([path, methods]) => [path, [...methods].sort()]));
}

describe('OpenAPI document', () => {
  const doc = buildOpenApiDocument();
  const paths = doc.paths as Json;
  const schemas = doc.components!.schemas as Json;

  it('is OpenAPI 3.1 with exactly the paths and methods of DESIGN.md §4', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('Quota Vault API');
    expect(methodsOf(paths)).toEqual(DESIGN_ROUTES);
  });

  it('documents every route the api-service really serves, and nothing it does not', () => {
    const unused = {} as never;
    const app = createApp({
      db: unused,
      principals: unused,
      quota: unused,
      outbox: unused,
      logger: pino({ level: 'silent' }),
      metrics: new Registry(),
      readiness: [],
      bodyLimit: '512kb',
      idempotency: { ttlHours: 24, lockSeconds: 30 },
      adminRouters: [adminDlqRoutes(unused), adminCacheRoutes(unused), adminLedgerRoutes(unused), adminOverviewRoutes(unused)],
      publicRouters: [openApiRoutes()],
      selfAuthenticatingRouters: [chatCompletionsRoutes(unused), anthropicMessagesRoutes(unused), modelsRoutes(unused)],
    } satisfies ApiDeps);
    expect(methodsOf(paths)).toEqual(routesOf(app));
  });

  it('describes POST /v1/items: the body from the contract, Idempotency-Key, 202 with the quota headers', () => {
    const post = paths['/v1/items'].post;
    const body = schemas.CreateItemBody;
    expect(post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/CreateItemBody' });
    expect(body.required).toEqual(['content']);
    expect(body.additionalProperties).toBe(false);
    expect(body.properties.content).toEqual({ type: 'string', minLength: 1, maxLength: 100_000 });
    expect(body.properties.title).toEqual({ type: 'string', maxLength: 200 });
    expect(body.properties.tasks.items.enum).toEqual(['summarize', 'tag', 'extract']);
    expect(Object.keys(body.properties).sort()).toEqual(Object.keys(CreateItemBody.shape).sort());

    const key = post.parameters.find((p: Json) => p.name === 'Idempotency-Key');
    expect(key).toMatchObject({ in: 'header', required: false, schema: { type: 'string', minLength: 1, maxLength: 255 } });

    const accepted = post.responses['202'];
    expect(Object.keys(accepted.headers).sort()).toEqual([...Object.keys(QUOTA_HEADERS), 'Idempotent-Replayed'].sort());
    expect(accepted.content['application/json'].schema.properties).toEqual({
      item: { $ref: '#/components/schemas/Item' },
      quota: { $ref: '#/components/schemas/QuotaStatus' },
    });
    expect(Object.keys(post.responses).sort()).toEqual(['202', '400', '401', '409', '413', '422', '429', '500', '503']);
  });

  it('answers 429 with the error schema, Retry-After and the quota headers', () => {
    const refused = paths['/v1/items'].post.responses['429'];
    expect(refused.content['application/json'].schema).toEqual({ $ref: ERROR_REF });
    expect(refused.headers['Retry-After']).toEqual({ $ref: '#/components/headers/Retry-After' });
    expect(Object.keys(refused.headers).sort()).toEqual(['Retry-After', ...Object.keys(QUOTA_HEADERS)].sort());
    expect(Object.keys(doc.components!.headers!).sort()).toEqual(['Retry-After', ...Object.keys(QUOTA_HEADERS)].sort());
    expect(Object.keys(paths['/v1/quota'].get.responses['200'].headers).sort()).toEqual(Object.keys(QUOTA_HEADERS).sort());
  });

  it('has one error schema with the closed list of codes, used by every error response', () => {
    const error = schemas.ErrorBody.properties.error;
    expect(schemas.ErrorBody.required).toEqual(['error']);
    expect(error.required).toEqual(['code', 'message']);
    expect(error.properties.code.enum).toEqual(ErrorCode.options);
    expect(Object.keys(error.properties).sort()).toEqual(['code', 'details', 'message', 'retryAfterSeconds']);

    let errorResponses = 0;
    for (const { path, method, op } of operations(doc)) {
      for (const [status, response] of Object.entries(op.responses as Json)) {
        // The chat paths answer their SDKs' error shapes (OpenAiErrorBody, AnthropicErrorBody), so the SDKs raise their own errors.
        if (Number(status) < 400 || path === '/readyz' || CHAT_PATHS.includes(path)) continue;
        errorResponses++;
        expect({ path, method, status, schema: response.content['application/json'].schema }).toEqual({ path, method, status, schema: { $ref: ERROR_REF } });
      }
    }
    expect(errorResponses).toBeGreaterThan(60);
  });

  it('asks for a bearer key on /v1 and /admin, an admin one (403) on /admin, and none on the operational routes', () => {
    expect(doc.components!.securitySchemes).toEqual({
      bearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      anthropicApiKey: expect.objectContaining({ type: 'apiKey', in: 'header', name: 'x-api-key' }),
    });
    for (const { path, method, op } of operations(doc)) {
      const guarded = path.startsWith('/v1/') || path.startsWith('/admin/');
      // Anthropic's SDK sends its key as x-api-key; a bearer key works there too.
      const schemes = path === '/v1/messages' || path === '/v1/models' ? [{ bearerAuth: [] }, { anthropicApiKey: [] }] : [{ bearerAuth: [] }];
      expect({ path, method, security: op.security }).toEqual({ path, method, security: guarded ? schemes : [] });
      if (guarded) expect({ path, method, has401: '401' in op.responses }).toEqual({ path, method, has401: true });
      if (path.startsWith('/admin/')) expect({ path, method, has403: '403' in op.responses }).toEqual({ path, method, has403: true });
    }
  });

  it('resolves every $ref to a component', () => {
    const refs = [...new Set(refsIn(doc))];
    expect(refs.length).toBeGreaterThan(15);
    for (const ref of refs) {
      const [, , kind, name] = ref.split('/');
      expect({ ref, exists: name in ((doc.components as Json)[kind] ?? {}) }).toEqual({ ref, exists: true });
    }
  });

  it('declares every path parameter', () => {
    for (const { path, method, op } of operations(doc)) {
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      const declared = ((op.parameters as Json[] | undefined) ?? []).filter((p) => p.in === 'path').map((p) => p.name).sort();
      expect({ path, method, declared }).toEqual({ path, method, declared: inPath });
    }
  });
});

describe('openApiRoutes', () => {
  let server: ReturnType<Express['listen']>;
  let base: string;

  beforeAll(async () => {
    const app = express();
    app.use(openApiRoutes());
    await new Promise<void>((resolve) => {
      server = app.listen(0, '127.0.0.1', () => resolve());
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('serves the document at /openapi.json', async () => {
    const res = await fetch(`${base}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await res.json()).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument())));
  });

  it('serves a self-contained page at /docs listing every operation and schema', async () => {
    const res = await fetch(`${base}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).not.toMatch(/<script|<link|src=/i);
    for (const [path, methods] of Object.entries(DESIGN_ROUTES)) {
      for (const method of methods) expect(html).toContain(`id="op-${`${method}_${path}`.replace(/[^A-Za-z0-9_-]/g, '_')}"`);
    }
    for (const name of Object.keys(buildOpenApiDocument().components!.schemas!)) expect(html).toContain(`id="schema-${name}"`);
    expect(html).toContain('X-AI-Quota-Concurrency-Remaining');
  });
});

describe('renderDocsPage', () => {
  it('escapes text from the document', () => {
    const doc = buildOpenApiDocument();
    doc.info.description = '<img src=x onerror=alert(1)> & `code`';
    const html = renderDocsPage(doc);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt; &amp; <code>code</code>');
    expect(html).not.toContain('<img');
  });
});
