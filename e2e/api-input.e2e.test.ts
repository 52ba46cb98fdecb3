import { createUser, eventually, http, startStack, type Stack } from '@qv/testing';

/**
 * Bad input on POST /v1/items gets a clear error and changes nothing (issue 3), plus the shared
 * auth cases for every route. The LLM and worker are not needed: nothing may reach them.
 */
describe('api-service input and auth', () => {
  let stack: Stack;
  let user: { id: string; key: string };
  beforeAll(async () => {
    stack = await startStack({ skip: ['enrichment-worker', 'ledger-consumer', 'llm-simulator'], serviceEnv: { 'api-service': { AUTH_CACHE_TTL_MS: '1000' } } });
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
    const res = await http('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: '', tasks: ['dance'], title: 'x'.repeat(201) } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    const paths = res.body.error.details.map((i: { path: string[] }) => i.path.join('.')).sort();
    expect(paths).toEqual(['content', 'tasks.0', 'title']);
    await nothingStored();
  });

  it('400 for unknown fields and content over 100,000 characters', async () => {
    const extra = await http('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: 'ok', admin: true } });
    expect(extra.status).toBe(400);
    const long = await http('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: 'a'.repeat(100_001) } });
    expect(long.status).toBe(400);
    expect(long.body.error.details[0].path).toEqual(['content']);
    await nothingStored();
  });

  it('400 for malformed JSON', async () => {
    const res = await http('POST', `${stack.api}/v1/items`, { key: user.key, raw: '{"content": "unterminated' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.message).toMatch(/JSON/);
    await nothingStored();
  });

  it('413 PAYLOAD_TOO_LARGE for a body over the limit', async () => {
    const res = await http('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: 'é'.repeat(400_000) } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    await nothingStored();
  });

  it('400 for a malformed Idempotency-Key', async () => {
    const res = await http('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: 'ok' }, headers: { 'idempotency-key': 'k'.repeat(256) } });
    expect(res.status).toBe(400);
    await nothingStored();
  });

  describe.each([
    ['POST', '/v1/items'],
    ['GET', '/v1/items'],
    ['GET', '/v1/items/itm_x'],
    ['GET', '/v1/quota'],
    ['GET', '/v1/usage'],
    ['GET', '/admin/plans'],
    ['POST', '/admin/users'],
    ['GET', '/admin/dlq'],
    ['GET', '/admin/reconciliation'],
  ])('%s %s', (method, path) => {
    it('401 without a key, with a malformed header, with an unknown key', async () => {
      for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer qv_nope' }] as Record<string, string>[]) {
        const res = await http(method, `${stack.api}${path}`, { headers, body: method === 'POST' ? { content: 'x' } : undefined });
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('UNAUTHENTICATED');
      }
    });
    if (path.startsWith('/admin')) {
      it('403 FORBIDDEN for a user key', async () => {
        const res = await http(method, `${stack.api}${path}`, { key: user.key, body: method === 'POST' ? {} : undefined });
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
      });
    }
  });

  it("404 for another user's item", async () => {
    const other = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    await stack.db.query(`INSERT INTO items (id, user_id, content, tasks) VALUES ('itm_other', $1, 'secret', '{summarize}')`, [other.id]);
    const res = await http('GET', `${stack.api}/v1/items/itm_other`, { key: user.key });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    const mine = await http('GET', `${stack.api}/v1/items/itm_other`, { key: other.key });
    expect(mine.status).toBe(200);
    await stack.db.query(`DELETE FROM items WHERE id = 'itm_other'`);
  });

  it('rotates keys: a new key works, a revoked one is refused (within the principal cache TTL)', async () => {
    const owner = await createUser(stack.api, stack.adminKey, 'payg');
    const issued = await http('POST', `${stack.api}/admin/users/${owner.id}/keys`, { key: stack.adminKey });
    expect(issued.status).toBe(201);
    expect(issued.body.apiKey).toMatch(/^qv_/);
    expect((await http('GET', `${stack.api}/v1/quota`, { key: issued.body.apiKey })).status).toBe(200);
    const listed = await http('GET', `${stack.api}/admin/users/${owner.id}/keys`, { key: stack.adminKey });
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
  });
});
