import { connect } from 'node:net';
import fc from 'fast-check';
import type { CreateItemResponse, CreateUserResponse, ErrorBody, QuotaStatus } from '@qv/contracts';
import { createUser, http, presets, startStack, type Stack } from '@qv/testing';
import { bodyOf, hostileNumber, hostileString, hostileValue } from './support/hostile';

/**
 * Hostile input on every public and admin route (issue 10): whatever a client sends, the answer is
 * never a 5xx, and a 4xx changes nothing: the user's quota is exactly what it was. The worker, the
 * ledger and the LLM are not started: nothing refused may reach them.
 */

/** Percent-encodes a string's UTF-16 code units as (W)TF-8, so lone surrogates reach the server as sent. */
function encodeSegment(value: string): string {
  let out = '';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff) {
      out += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
    } else {
      out += encodeURIComponent(char);
    }
  }
  return out;
}

const query = (params: Record<string, string>) => Object.entries(params).map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`).join('&');

const LIMITS = ['enrichmentsPerDay', 'concurrentJobs', 'callsPerHour', 'tokensPerDay', 'tokensPerMonth', 'sessionTtlSeconds', 'contentTtlSeconds'];
const overrides = fc.dictionary(fc.oneof(fc.constantFrom(...LIMITS), hostileString), hostileValue, { maxKeys: 3 });

/** Limits wide enough that the 202s of the property runs never turn later requests into 429s. */
const ROOMY = { concurrentJobs: 1_000_000, callsPerHour: null, enrichmentsPerDay: null, tokensPerDay: null, tokensPerMonth: null };

type Call = { method: string; path: string; body?: unknown; headers?: Record<string, string> };
/** What is read of any route's answer: its error code, when it has one. */
type AnyAnswer = { error?: { code?: unknown } } | null;

describe('hostile input on every route', () => {
  let stack: Stack;
  let user: { id: string; key: string };
  beforeAll(async () => {
    stack = await startStack(presets.withoutPipeline);
    user = await createUser(stack.api, stack.adminKey, 'pro_monthly', ROOMY);
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const usedOf = async () => {
    const res = await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key: user.key });
    expect(res.status).toBe(200);
    return Object.fromEntries(Object.entries(res.body.quotas).map(([name, q]) => [name, [q.used, q.limit]]));
  };
  const rowCounts = async () => {
    const [row] = await stack.db.query<{ items: string; reservations: string; users: string }>(
      `SELECT (SELECT count(*) FROM items)::text AS items, (SELECT count(*) FROM ai_usage_reservations)::text AS reservations, (SELECT count(*) FROM users)::text AS users`,
    );
    return row;
  };

  /** Sends the call; a 5xx fails the property, a 4xx must leave quota and stored rows exactly as they were. */
  const check = async (call: Call, asAdmin: boolean) => {
    const before = await usedOf();
    const rowsBefore = await rowCounts();
    const sent = http<AnyAnswer>(call.method, `${stack.api}${call.path}`, { key: asAdmin ? stack.adminKey : user.key, body: call.body, headers: call.headers });
    // A request line past Node's header limit (16 KiB) is answered 431 and the socket closed while
    // the client may still be writing it: the client can see the reset instead of the 431. Either
    // way it was refused at the door, so it must have changed nothing.
    const res = call.path.length > 16_384 ? await sent.catch(() => ({ status: 431, body: { error: { code: 'HEADERS_TOO_LARGE' } }, headers: new Headers() })) : await sent;
    if (res.status >= 500) throw new Error(`${call.method} ${call.path.slice(0, 120)} → ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    if (res.status >= 400) {
      expect(typeof res.body?.error?.code).toBe('string');
      expect(await usedOf()).toEqual(before);
      expect(await rowCounts()).toEqual(rowsBefore);
    }
  };

  const routes: Array<[string, fc.Arbitrary<Call>, boolean]> = [
    ['POST /v1/items', fc.record({ body: bodyOf({ content: fc.string({ minLength: 1 }), title: hostileString, url: fc.webUrl(), tasks: fc.array(fc.constantFrom('summarize', 'tag', 'extract', 'dance')) }), key: fc.option(fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 300 }).filter((k) => /^[\x20-\x7e]+$/.test(k))) }).map(({ body, key }) => ({ method: 'POST', path: '/v1/items', body, headers: key ? { 'idempotency-key': key } : undefined })), false],
    ['GET /v1/items/:id', hostileString.map((id) => ({ method: 'GET', path: `/v1/items/${encodeSegment(id) || 'x'}` })), false],
    ['GET /v1/items?cursor&limit', fc.record({ cursor: hostileString, limit: hostileString }).map((q) => ({ method: 'GET', path: `/v1/items?${query(q)}` })), false],
    ['GET /v1/usage?cursor&limit', fc.record({ cursor: hostileString, limit: hostileNumber.map(String) }).map((q) => ({ method: 'GET', path: `/v1/usage?${query(q)}` })), false],
    ['POST /admin/users', bodyOf({ email: fc.emailAddress(), plan: fc.constantFrom('free', 'pro_monthly', 'nope'), overrides, role: fc.constantFrom('user', 'admin', 'root') }).map((body) => ({ method: 'POST', path: '/admin/users', body })), true],
    ['GET /admin/users/:id', hostileString.map((id) => ({ method: 'GET', path: `/admin/users/${encodeSegment(id) || 'x'}` })), true],
    ['PATCH /admin/users/:id (a real user)', bodyOf({ email: fc.emailAddress(), plan: fc.oneof(fc.constant('nope'), hostileString), overrides, mergeOverrides: overrides }).map((body) => ({ method: 'PATCH', path: '/admin/users/REAL', body })), true],
    ['PATCH /admin/users/:id (any id)', fc.tuple(hostileString, bodyOf({ overrides })).map(([id, body]) => ({ method: 'PATCH', path: `/admin/users/${encodeSegment(id) || 'x'}`, body })), true],
    ['GET|POST /admin/users/:id/keys', fc.tuple(fc.constantFrom('GET', 'POST'), hostileString).map(([method, id]) => ({ method, path: `/admin/users/${encodeSegment(id) || 'x'}/keys` })), true],
    ['DELETE /admin/users/:id/keys/:keyId', fc.tuple(hostileString, hostileString).map(([id, keyId]) => ({ method: 'DELETE', path: `/admin/users/${encodeSegment(id) || 'x'}/keys/${encodeSegment(keyId) || 'x'}` })), true],
    ['PUT /admin/plans/:id', fc.tuple(fc.oneof(fc.constantFrom('free', 'payg'), hostileString), bodyOf({ name: hostileString, callsPerHour: hostileNumber, tokensPerDay: hostileNumber, contentTtlSeconds: hostileNumber })).map(([id, body]) => ({ method: 'PUT', path: `/admin/plans/${encodeSegment(id) || 'x'}`, body })), true],
    ['GET /admin/dlq?filters', fc.record({ userId: hostileString, since: hostileString, until: hostileString, error: hostileString }, { requiredKeys: [] }).map((q) => ({ method: 'GET', path: `/admin/dlq?${query(q as Record<string, string>)}` })), true],
    ['GET|DELETE /admin/dlq/:jobId', fc.tuple(fc.constantFrom('GET', 'DELETE'), hostileString).map(([method, id]) => ({ method, path: `/admin/dlq/${encodeSegment(id) || 'x'}` })), true],
    ['POST /admin/dlq/:jobId/replay', fc.tuple(hostileString, bodyOf({ chargeUser: fc.boolean() })).map(([id, body]) => ({ method: 'POST', path: `/admin/dlq/${encodeSegment(id) || 'x'}/replay`, body })), true],
    ['POST /admin/dlq/replay', bodyOf({ userId: hostileString, since: hostileString, error: hostileString, chargeUser: fc.boolean() }).map((body) => ({ method: 'POST', path: '/admin/dlq/replay', body })), true],
    ['POST /admin/cache/purge', bodyOf({ tier: fc.constantFrom('system', 'session', 'content', 'all'), userId: hostileString }).map((body) => ({ method: 'POST', path: '/admin/cache/purge', body })), true],
    ['GET /admin/reconciliation', fc.record({ userId: hostileString, since: hostileString, drifting: hostileString, limit: fc.oneof(hostileString, hostileNumber.map(String)) }, { requiredKeys: [] }).map((q) => ({ method: 'GET', path: `/admin/reconciliation?${query(q as Record<string, string>)}` })), true],
    ['GET /admin/reports/usage', fc.record({ since: hostileString }).map((q) => ({ method: 'GET', path: `/admin/reports/usage?${query(q)}` })), true],
    ['GET /admin/users?email', fc.record({ email: fc.oneof(fc.emailAddress(), hostileString) }, { requiredKeys: [] }).map((q) => ({ method: 'GET', path: `/admin/users?${query(q as Record<string, string>)}` })), true],
    ['GET /admin/overview', fc.record({ any: hostileString }, { requiredKeys: [] }).map((q) => ({ method: 'GET', path: `/admin/overview?${query(q as Record<string, string>)}` })), true],
  ];

  it.each(routes)('%s: never a 5xx, and a 4xx changes nothing', async (_name, calls, asAdmin) => {
    await fc.assert(
      fc.asyncProperty(calls, async (call) => {
        await check({ ...call, path: call.path.replace('/admin/users/REAL', `/admin/users/${user.id}`) }, asAdmin);
      }),
      { numRuns: 40 },
    );
  }, 180_000);

  describe('the measured cases, one by one', () => {
    beforeAll(async () => {
      // The property runs may have PATCHed the user's overrides away.
      const res = await http('PATCH', `${stack.api}/admin/users/${user.id}`, { key: stack.adminKey, body: { plan: 'pro_monthly', overrides: ROOMY } });
      expect(res.status).toBe(200);
    });

    const refusedUnchanged = async (call: Call, field: string, asAdmin = false) => {
      const before = await usedOf();
      const res = await http<ErrorBody>(call.method, `${stack.api}${call.path}`, { key: asAdmin ? stack.adminKey : user.key, body: call.body, headers: call.headers });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(JSON.stringify(res.body.error)).toContain(field);
      expect(await usedOf()).toEqual(before);
    };

    it.each([
      ['content', { content: 'a\u0000b' }],
      ['title', { content: 'ok', title: 'x\u0000' }],
      ['url', { content: 'ok', url: 'https://example.com/\u0000' }],
      ['content', { content: 'lone \ud800 surrogate' }],
      ['title', { content: 'ok', title: '\udc00' }],
    ])('NUL or a lone surrogate in %s → 400 naming it, before any charge', async (field, body) => {
      await refusedUnchanged({ method: 'POST', path: '/v1/items', body }, field);
    });

    it('a lone surrogate with an Idempotency-Key is refused and does not use the key up', async () => {
      const key = `surrogate-${Date.now()}`;
      await refusedUnchanged({ method: 'POST', path: '/v1/items', body: { content: 'x\ud83d' }, headers: { 'idempotency-key': key } }, 'content');
      const retry = await http<CreateItemResponse>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: 'x fixed' }, headers: { 'idempotency-key': key } });
      expect(retry.status).toBe(202);
      expect(retry.body.item.content).toBe('x fixed');
    });

    it.each(['/v1/items/%00', '/v1/items?cursor=%00', '/v1/usage?cursor=%00', '/v1/items/%ED%A0%80', '/v1/items/%E0'])('GET %s → 400, not 500', async (path) => {
      const res = await http<ErrorBody>('GET', `${stack.api}${path}`, { key: user.key });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    });

    it.each([
      ['GET', '/admin/users/%00', undefined],
      ['PATCH', '/admin/users/%00', { plan: 'free' }],
      ['GET', '/admin/reconciliation?userId=%00', undefined],
      ['PUT', '/admin/plans/free', { callsPerHour: 2 ** 31 }],
      ['PUT', '/admin/plans/free', { tokensPerDay: 2 ** 53 }],
      ['PUT', '/admin/plans/free', { name: 'Free\u0000' }],
      ['PATCH', '/admin/users/REAL', { overrides: { contentTtlSeconds: 2 ** 31 } }],
      ['PATCH', '/admin/users/REAL', { overrides: { concurrentJobs: -1 } }],
    ])('%s %s %j → 400 VALIDATION_FAILED', async (method, path, body) => {
      const res = await http<ErrorBody>(method, `${stack.api}${path.replace('REAL', user.id)}`, { key: stack.adminKey, body });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    });

    it('url must be http(s) and at most 2,048 characters', async () => {
      for (const url of ['javascript:alert(1)', 'file:///etc/passwd', 'data:text/html,<b>x</b>', `https://example.com/${'a'.repeat(2030)}`]) {
        await refusedUnchanged({ method: 'POST', path: '/v1/items', body: { content: 'ok', url } }, 'url');
      }
      const ok = await http('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: 'ok', url: `https://example.com/${'a'.repeat(2000)}` } });
      expect(ok.status).toBe(202);
    });

    it('emails are at most 254 characters and unique whatever their case', async () => {
      const long = await http('POST', `${stack.api}/admin/users`, { key: stack.adminKey, body: { plan: 'free', email: `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com` } });
      expect(long.status).toBe(400);
      const first = await http<CreateUserResponse>('POST', `${stack.api}/admin/users`, { key: stack.adminKey, body: { plan: 'free', email: 'Case@Example.COM' } });
      expect(first.status).toBe(201);
      expect(first.body.user.email).toBe('case@example.com');
      const second = await http<ErrorBody>('POST', `${stack.api}/admin/users`, { key: stack.adminKey, body: { plan: 'free', email: 'case@example.com' } });
      expect(second.status).toBe(409);
      expect(second.body.error.code).toBe('CONFLICT');
    });

    it('a failure after the charge releases it in the same request', async () => {
      // A real constraint in this test's own database makes the item's INSERT fail after the charge.
      await stack.db.query(`ALTER TABLE items ADD CONSTRAINT test_store_fails CHECK (title IS DISTINCT FROM 'store-must-fail')`);
      try {
        const before = await usedOf();
        const res = await http<ErrorBody>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: 'charged, then the store fails', title: 'store-must-fail' } });
        expect(res.status).toBe(500);
        expect(res.body.error.code).toBe('INTERNAL');
        expect(await usedOf()).toEqual(before);
        const [row] = await stack.db.query<{ status: string }>(`SELECT status FROM ai_usage_reservations ORDER BY created_at DESC LIMIT 1`);
        expect(row.status).toBe('RELEASED');
      } finally {
        await stack.db.query('ALTER TABLE items DROP CONSTRAINT test_store_fails');
      }
    });

    const rawRequest = (payload: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(stack.api).port), '127.0.0.1');
        let data = '';
        socket.on('data', (chunk) => (data += chunk.toString()));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
        socket.write(payload);
      });

    it.each([
      ['oversized headers', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
      ['a request that is not HTTP', 'NOT HTTP AT ALL\r\n\r\n', 400, 'VALIDATION_FAILED'],
    ])("Node's parser refusing %s answers in the error shape", async (_name, payload, status, code) => {
      const answer = await rawRequest(payload);
      expect(answer.split('\r\n')[0]).toBe(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}`);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as ErrorBody;
      expect(body.error.code).toBe(code);
    });
  });
});
