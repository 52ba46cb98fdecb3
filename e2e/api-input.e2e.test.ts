import type { ApiKeysResponse, CreateApiKeyResponse, ErrorBody } from '@qv/contracts';
import { createUser, eventually, http, presets, startStack, type Stack } from '@qv/testing';

/** A 400 VALIDATION_FAILED as this file reads it: `details` holds the zod issues. */
type ValidationFailed = ErrorBody & { error: { details: Array<{ path: string[] }> } };
/** The part of the OpenAPI document read here. */
type OpenApiPaths = { paths: Record<string, Record<string, { security?: unknown[] }>> };

/**
 * Bad input on POST /v1/items gets a clear error and changes nothing (issue 3), plus the shared
 * auth cases for every secured operation of the OpenAPI document. The LLM and worker are not needed: nothing may reach them.
 */
describe('api-service input and auth', () => {
  let stack: Stack;
  let user: { id: string; key: string };
  beforeAll(async () => {
    // Failed authentications are this file's subject: the throttle on them (e2e/api-edge) is lifted.
    stack = await startStack(presets.withoutPipeline, { serviceEnv: { 'api-service': { AUTH_CACHE_TTL_MS: '1000', AUTH_FAILURE_LIMIT: '100000' } } });
    user = await createUser(stack.api, stack.adminKey, 'free');
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const nothingStored = async () => {
    const [items] = await stack.db.query<{ n: string }>('SELECT count(*)::text AS n FROM items');
    const [reservations] = await stack.db.query<{ n: string }>('SELECT count(*)::text AS n FROM ai_usage_reservations');
    const [outbox] = await stack.db.query<{ n: string }>('SELECT count(*)::text AS n FROM outbox');
    expect({ items: items.n, reservations: reservations.n, outbox: outbox.n }).toEqual({ items: '0', reservations: '0', outbox: '0' });
  };

  it('400 VALIDATION_FAILED with the zod issues for a bad body', async () => {
    const res = await http<ValidationFailed>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: '', tasks: ['dance'], title: 'x'.repeat(201) } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    const paths = res.body.error.details.map((i) => i.path.join('.')).sort();
    expect(paths).toEqual(['content', 'tasks.0', 'title']);
    await nothingStored();
  });

  it('400 for unknown fields and content over 100,000 characters', async () => {
    const extra = await http('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: 'ok', admin: true } });
    expect(extra.status).toBe(400);
    const long = await http<ValidationFailed>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: 'a'.repeat(100_001) } });
    expect(long.status).toBe(400);
    expect(long.body.error.details[0].path).toEqual(['content']);
    await nothingStored();
  });

  it('400 for malformed JSON', async () => {
    const res = await http<ErrorBody>('POST', `${stack.api}/v1/items`, { key: user.key, raw: '{"content": "unterminated' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.message).toMatch(/JSON/);
    await nothingStored();
  });

  it('413 PAYLOAD_TOO_LARGE for a body over the limit', async () => {
    const res = await http<ErrorBody>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: 'é'.repeat(600_000) } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    await nothingStored();
  });

  it('400 for a malformed Idempotency-Key', async () => {
    const res = await http('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: 'ok' }, headers: { 'idempotency-key': 'k'.repeat(256) } });
    expect(res.status).toBe(400);
    await nothingStored();
  });

  // Every operation the OpenAPI document marks as secured, taken from the running service's own
  // document, so a route added later is covered the day it is documented.
  const securedOperations = async () => {
    const doc = (await http<OpenApiPaths>('GET', `${stack.api}/openapi.json`)).body;
    const ops: { method: string; path: string }[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (op.security?.length) ops.push({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, 'x_nope') });
      }
    }
    return ops;
  };

  it('401 UNAUTHENTICATED on every secured operation without a key, with a malformed header, with an unknown key', async () => {
    const ops = await securedOperations();
    expect(ops.length).toBeGreaterThanOrEqual(23);
    const answers: string[] = [];
    for (const { method, path } of ops) {
      for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer qv_nope' }] as Record<string, string>[]) {
        const res = await http<Partial<ErrorBody> | null>(method, `${stack.api}${path}`, { headers, body: ['POST', 'PUT', 'PATCH'].includes(method) ? { content: 'x' } : undefined });
        answers.push(`${method} ${path} ${res.status} ${res.body?.error?.code}`);
      }
    }
    expect(answers.filter((a) => !a.endsWith(' 401 UNAUTHENTICATED'))).toEqual([]);
  });

  it('403 FORBIDDEN on every secured admin operation for a user key', async () => {
    const ops = (await securedOperations()).filter((op) => op.path.startsWith('/admin'));
    expect(ops.length).toBeGreaterThanOrEqual(15);
    const answers: string[] = [];
    for (const { method, path } of ops) {
      const res = await http<Partial<ErrorBody> | null>(method, `${stack.api}${path}`, { key: user.key, body: ['POST', 'PUT', 'PATCH'].includes(method) ? {} : undefined });
      answers.push(`${method} ${path} ${res.status} ${res.body?.error?.code}`);
    }
    expect(answers.filter((a) => !a.endsWith(' 403 FORBIDDEN'))).toEqual([]);
  });

  it('the operations open without a key are exactly the health, readiness and documentation ones', async () => {
    const doc = (await http<OpenApiPaths>('GET', `${stack.api}/openapi.json`)).body;
    const open = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).filter(([, op]) => !op.security?.length).map(([method]) => `${method.toUpperCase()} ${path}`));
    expect(open.sort()).toEqual(['GET /docs', 'GET /healthz', 'GET /openapi.json', 'GET /readyz']);
  });

  it("404 for another user's item", async () => {
    const other = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    await stack.db.query(`INSERT INTO items (id, user_id, content, tasks) VALUES ('itm_other', $1, 'secret', '{summarize}')`, [other.id]);
    const res = await http<ErrorBody>('GET', `${stack.api}/v1/items/itm_other`, { key: user.key });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    const mine = await http('GET', `${stack.api}/v1/items/itm_other`, { key: other.key });
    expect(mine.status).toBe(200);
    await stack.db.query(`DELETE FROM items WHERE id = 'itm_other'`);
  });

  it('rotates keys: a new key works, a revoked one is refused (within the principal cache TTL)', async () => {
    const owner = await createUser(stack.api, stack.adminKey, 'payg');
    const issued = await http<CreateApiKeyResponse>('POST', `${stack.api}/admin/users/${owner.id}/keys`, { key: stack.adminKey });
    expect(issued.status).toBe(201);
    expect(issued.body.apiKey).toMatch(/^qv_/);
    expect((await http('GET', `${stack.api}/v1/quota`, { key: issued.body.apiKey })).status).toBe(200);
    const listed = await http<ApiKeysResponse>('GET', `${stack.api}/admin/users/${owner.id}/keys`, { key: stack.adminKey });
    expect(listed.body.keys).toHaveLength(2);
    expect(JSON.stringify(listed.body)).not.toContain(owner.key); // only prefixes, never the secret
    const oldKeyId = listed.body.keys[0].id;
    expect((await http('DELETE', `${stack.api}/admin/users/${owner.id}/keys/${oldKeyId}`, { key: stack.adminKey })).status).toBe(204);
    expect((await http('DELETE', `${stack.api}/admin/users/${owner.id}/keys/key_nope`, { key: stack.adminKey })).status).toBe(404);
    await eventually(async () => (await http('GET', `${stack.api}/v1/quota`, { key: owner.key })).status === 401, 10_000, 200);
    expect((await http('GET', `${stack.api}/v1/quota`, { key: issued.body.apiKey })).status).toBe(200);
    expect((await http('POST', `${stack.api}/admin/users/usr_nobody/keys`, { key: stack.adminKey })).status).toBe(404);
  });

  it('never echoes an internal error message', async () => {
    const res = await http('GET', `${stack.api}/no-such-route`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: 'No such route' } });
    // A real internal fault: an override stored malformed behind the API's back makes the quota
    // functions raise (fail closed) with a message naming the table. The answer must not carry it.
    const victim = await createUser(stack.api, stack.adminKey, 'free');
    await stack.db.query(`INSERT INTO user_quota_overrides (user_id, limits) VALUES ($1, $2::jsonb) ON CONFLICT (user_id) DO UPDATE SET limits = EXCLUDED.limits`, [victim.id, JSON.stringify({ tokensPerDay: 'lots' })]);
    for (const answer of [await http<ErrorBody>('GET', `${stack.api}/v1/quota`, { key: victim.key }), await http<ErrorBody>('POST', `${stack.api}/v1/items`, { key: victim.key, body: { content: 'charged against a malformed override' } })]) {
      expect(answer.status).toBeGreaterThanOrEqual(500);
      expect(Object.keys(answer.body.error).sort()).toEqual(expect.arrayContaining(['code', 'message']));
      expect(JSON.stringify(answer.body)).not.toMatch(/malformed|user_quota_overrides|tokensPerDay|quota_effective_limit|SQL|stack|at \w+ \(/i);
    }
    // And nothing was charged or stored for it.
    expect(await stack.db.query('SELECT 1 FROM ai_usage_reservations WHERE user_id = $1 UNION ALL SELECT 1 FROM items WHERE user_id = $1', [victim.id])).toEqual([]);
  });
});
