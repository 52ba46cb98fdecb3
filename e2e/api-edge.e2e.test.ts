import { createHash, randomBytes } from 'node:crypto';
import { createRedis } from '@qv/queue';
import type { ApiKeysResponse, CreateApiKeyResponse, CreateUserResponse, ErrorBody } from '@qv/contracts';
import { createUser, eventually, http, startService, startStack, testRedisUrl, type ServiceProcess, type Stack } from '@qv/testing';
import type { Redis } from 'ioredis';

/**
 * The api-service's edge (issue 10): revocations reach every replica at once over pub/sub, failed
 * authentications are throttled per client over all replicas, /metrics is off the public port, the
 * security headers, and CORS.
 */
describe('api-service edge', () => {
  const ORIGIN = 'https://app.example.com';
  const WINDOW_MS = 4000;
  let stack: Stack;
  /** A second replica of the same configuration. */
  let replica2: ServiceProcess;
  /** A replica with CORS_ORIGINS unset. */
  let noCors: ServiceProcess;
  let watcher: Redis;
  const messages: string[] = [];

  beforeAll(async () => {
    stack = await startStack({
      skip: ['llm-simulator', 'cache-service', 'enrichment-worker', 'ledger-consumer'],
      serviceEnv: {
        'api-service': {
          // Long caches: whatever goes faster than this was done by the pub/sub evictions.
          AUTH_CACHE_TTL_MS: '60000',
          AUTH_NEGATIVE_CACHE_TTL_MS: '60000',
          AUTH_FAILURE_LIMIT: '20',
          AUTH_FAILURE_WINDOW_MS: String(WINDOW_MS),
          CORS_ORIGINS: `${ORIGIN}, http://localhost:5173`,
        },
      },
    });
    [replica2, noCors] = await Promise.all([
      startService('api-service', stack.envFor('api-service')),
      startService('api-service', { ...stack.envFor('api-service'), CORS_ORIGINS: '' }),
    ]);
    watcher = createRedis(testRedisUrl());
    watcher.on('message', (_channel: string, message: string) => messages.push(message));
    await watcher.subscribe(`${stack.redisPrefix}:auth:evictions`);
  }, 90_000);
  afterAll(async () => {
    watcher?.disconnect();
    await Promise.all([replica2?.stop(5000), noCors?.stop(5000)]);
    await stack?.stop();
  });

  const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
  /** GET /v1/quota; only the refusals' bodies are read here. */
  const quota = (base: string, key?: string) => http<ErrorBody>('GET', `${base}/v1/quota`, { key });
  const keysOf = async (userId: string) => (await http<ApiKeysResponse>('GET', `${stack.api}/admin/users/${userId}/keys`, { key: stack.adminKey })).body.keys;
  const published = (eviction: Record<string, string>) => eventually(async () => messages.some((m) => JSON.stringify(JSON.parse(m)) === JSON.stringify(eviction)), 2000, 10);

  describe('revocation', () => {
    it('the very next request on the revoking replica is 401; another replica refuses it via pub/sub, well under AUTH_CACHE_TTL_MS', async () => {
      const user = await createUser(stack.api, stack.adminKey, 'payg');
      // Both replicas now hold the key as valid for 60 s.
      expect((await quota(stack.api, user.key)).status).toBe(200);
      expect((await quota(replica2.url, user.key)).status).toBe(200);
      const [{ id: keyId }] = await keysOf(user.id);

      const revoked = await http('DELETE', `${stack.api}/admin/users/${user.id}/keys/${keyId}`, { key: stack.adminKey });
      const revokedAt = Date.now();
      expect(revoked.status).toBe(204);
      const next = await quota(stack.api, user.key);
      expect(next.status).toBe(401);
      expect(next.body.error.code).toBe('UNAUTHENTICATED');

      // Well inside the 60 s TTL: the eviction reached the other replica, not the TTL.
      await eventually(async () => (await quota(replica2.url, user.key)).status === 401, 30_000, 10);
      expect(Date.now() - revokedAt).toBeLessThan(30_000);
      await published({ keyHash: sha256(user.key) });
    });

    it('a revoke of an already revoked key announces again; an unknown key id is 404 and announces nothing', async () => {
      const user = await createUser(stack.api, stack.adminKey, 'payg');
      const [{ id: keyId }] = await keysOf(user.id);
      expect((await http('DELETE', `${stack.api}/admin/users/${user.id}/keys/${keyId}`, { key: stack.adminKey })).status).toBe(204);
      messages.length = 0;
      expect((await http('DELETE', `${stack.api}/admin/users/${user.id}/keys/${keyId}`, { key: stack.adminKey })).status).toBe(204);
      await published({ keyHash: sha256(user.key) });
      messages.length = 0;
      expect((await http('DELETE', `${stack.api}/admin/users/${user.id}/keys/key_nope`, { key: stack.adminKey })).status).toBe(404);
      await new Promise((r) => setTimeout(r, 200));
      expect(messages).toEqual([]);
    });

    it('a plan change evicts the user on every replica', async () => {
      const user = await createUser(stack.api, stack.adminKey, 'payg');
      const patched = await http('PATCH', `${stack.api}/admin/users/${user.id}`, { key: stack.adminKey, body: { plan: 'pro_monthly' } });
      expect(patched.status).toBe(200);
      await published({ userId: user.id });
    });
  });

  describe('new keys', () => {
    it('a key remembered as unknown on every replica works at once once it is issued (seeded by a starting replica)', async () => {
      const newAdminKey = `qv_admin_${randomBytes(12).toString('hex')}`;
      // Refused, and so remembered as unknown for AUTH_NEGATIVE_CACHE_TTL_MS (60 s) by both.
      expect((await quota(stack.api, newAdminKey)).status).toBe(401);
      expect((await quota(replica2.url, newAdminKey)).status).toBe(401);
      // A third replica seeds it straight into the database at start (ADMIN_API_KEY) and announces it.
      const seeding = await startService('api-service', { ...stack.envFor('api-service'), ADMIN_API_KEY: newAdminKey });
      try {
        // Within 5 s, far inside the 60 s the refusal is remembered: the announcement evicted it.
        await eventually(async () => (await http('GET', `${stack.api}/admin/plans`, { key: newAdminKey })).status === 200, 5000, 10);
        await eventually(async () => (await http('GET', `${replica2.url}/admin/plans`, { key: newAdminKey })).status === 200, 5000, 10);
      } finally {
        await seeding.stop(5000);
      }
    });

    it('keys issued through the admin API are announced (their hash evicted everywhere) and work at once on every replica', async () => {
      messages.length = 0;
      const created = await http<CreateUserResponse>('POST', `${stack.api}/admin/users`, { key: stack.adminKey, body: { plan: 'payg' } });
      expect(created.status).toBe(201);
      await published({ keyHash: sha256(created.body.apiKey) });
      const issued = await http<CreateApiKeyResponse>('POST', `${stack.api}/admin/users/${created.body.user.id}/keys`, { key: stack.adminKey });
      expect(issued.status).toBe(201);
      await published({ keyHash: sha256(issued.body.apiKey) });
      for (const base of [stack.api, replica2.url]) {
        expect((await quota(base, created.body.apiKey)).status).toBe(200);
        expect((await quota(base, issued.body.apiKey)).status).toBe(200);
      }
    });
  });

  describe('/metrics', () => {
    it('is 404 on the public port and served on the operations port, to the scraper only', async () => {
      const api = stack.services['api-service']!;
      const open = await http('GET', `${stack.api}/metrics`);
      expect(open.status).toBe(404);
      expect(open.body).toEqual({ error: { code: 'NOT_FOUND', message: 'No such route' } });
      expect(api.opsUrl).toBeDefined();
      expect(api.opsPort).not.toBe(api.port);

      const scraped = await fetch(`${api.opsUrl}/metrics`, { headers: stack.as('metrics') });
      expect(scraped.status).toBe(200);
      // The public port's requests are in it (one registry, one histogram for both servers).
      expect(await scraped.text()).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/v1\/quota"[^}]*\} [1-9]/);
      expect((await fetch(`${api.opsUrl}/metrics`)).status).toBe(401);
      expect((await fetch(`${api.opsUrl}/metrics`, { headers: stack.as('api-service') })).status).toBe(401); // not a caller of this port
      expect((await http('GET', `${api.opsUrl}/healthz`)).body).toEqual({ status: 'ok', service: 'api-service' });
      expect((await http('GET', `${api.opsUrl}/readyz`)).status).toBe(200);
      expect(replica2.opsPort).not.toBe(api.opsPort);
    });
  });

  describe('headers', () => {
    it('X-Content-Type-Options: nosniff on every response, errors and 404s included, on both ports', async () => {
      const user = await createUser(stack.api, stack.adminKey, 'payg');
      const responses = [
        await http('GET', `${stack.api}/healthz`),
        await http('GET', `${stack.api}/openapi.json`),
        await http('GET', `${stack.api}/docs`),
        await http('GET', `${stack.api}/no-such-route`),
        await http('GET', `${stack.api}/metrics`),
        await quota(stack.api),
        await quota(stack.api, user.key),
        await http('POST', `${stack.api}/v1/items`, { key: user.key, raw: '{"content":' }),
        await http('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: '' } }),
        await http('GET', `${stack.api}/admin/plans`, { key: user.key }),
        await http('OPTIONS', `${stack.api}/v1/items`, { headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } }),
        await http('GET', `${stack.services['api-service']!.opsUrl}/metrics`, { headers: stack.as('metrics') }),
        await http('GET', `${stack.services['api-service']!.opsUrl}/nothing`, { headers: stack.as('metrics') }),
      ];
      expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 404, 404, 401, 200, 400, 400, 403, 204, 200, 404]);
      for (const r of responses) expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    });

    it('Cache-Control: no-store on every /v1 and /admin response (a key, a user’s data, or a refusal), not on public ones', async () => {
      const created = await http<CreateUserResponse>('POST', `${stack.api}/admin/users`, { key: stack.adminKey, body: { plan: 'payg' } });
      expect(created.status).toBe(201);
      const key = created.body.apiKey;
      const responses = [
        created,
        await http('POST', `${stack.api}/admin/users/${created.body.user.id}/keys`, { key: stack.adminKey }),
        await http('GET', `${stack.api}/admin/users/${created.body.user.id}`, { key: stack.adminKey }),
        await quota(stack.api, key),
        await http('POST', `${stack.api}/v1/items`, { key, body: { content: 'no-store please', tasks: ['tag'] } }),
        await http('GET', `${stack.api}/v1/items/itm_nope`, { key }),
        await quota(stack.api),
      ];
      expect(responses.map((r) => r.status)).toEqual([201, 201, 200, 200, 202, 404, 401]);
      for (const r of responses) expect(r.headers.get('cache-control')).toBe('no-store');
      expect((await http('GET', `${stack.api}/healthz`)).headers.get('cache-control')).toBeNull();
    });
  });

  describe('CORS', () => {
    const corsHeaders = (headers: Headers) => [...headers.keys()].filter((k) => k.startsWith('access-control-')).sort();
    const preflight = (base: string, origin: string) =>
      http('OPTIONS', `${base}/v1/items`, {
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, idempotency-key' },
      });

    it('answers an allowed origin’s preflight with 204 before authentication', async () => {
      for (const origin of [ORIGIN, 'http://localhost:5173']) {
        const res = await preflight(stack.api, origin);
        expect(res.status).toBe(204);
        expect(res.headers.get('access-control-allow-origin')).toBe(origin);
        expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
        expect(res.headers.get('access-control-allow-methods')).toBe('GET, POST, PUT, PATCH, DELETE');
        expect(res.headers.get('access-control-allow-headers')).toBe('Authorization, Content-Type, Idempotency-Key, X-Request-Id');
        expect(res.headers.get('access-control-max-age')).toBe('600');
        expect(res.headers.get('access-control-expose-headers')!.split(', ')).toEqual([
          'X-AI-Quota-Limit',
          'X-AI-Quota-Remaining',
          'X-AI-Quota-Reset',
          'X-AI-Quota-Tokens-Limit',
          'X-AI-Quota-Tokens-Remaining',
          'X-AI-Quota-Concurrency-Limit',
          'X-AI-Quota-Concurrency-Remaining',
          'Retry-After',
          'Idempotent-Replayed',
          'X-Request-Id',
        ]);
        expect(res.headers.get('access-control-allow-credentials')).toBeNull();
        expect(res.body).toBeNull();
      }
    });

    it('lets an allowed origin read answers, errors included', async () => {
      const user = await createUser(stack.api, stack.adminKey, 'payg');
      const headers = { origin: ORIGIN };
      for (const res of [
        await http('GET', `${stack.api}/v1/quota`, { key: user.key, headers }),
        await http('GET', `${stack.api}/v1/quota`, { headers }),
        await http('POST', `${stack.api}/v1/items`, { key: user.key, headers, raw: '{"content":' }),
        await http('GET', `${stack.api}/nowhere`, { headers }),
        await http('GET', `${stack.api}/openapi.json`, { headers }),
      ]) {
        expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
        expect(res.headers.get('access-control-expose-headers')).toContain('X-AI-Quota-Remaining');
        expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
      }
    });

    it('gives an origin not listed no CORS header at all (its preflight is not answered 204)', async () => {
      for (const origin of ['https://evil.example', 'http://app.example.com', 'https://app.example.com.evil.example', 'null']) {
        const res = await preflight(stack.api, origin);
        expect(res.status).not.toBe(204);
        expect(corsHeaders(res.headers)).toEqual([]);
        const read = await http('GET', `${stack.api}/openapi.json`, { headers: { origin } });
        expect(corsHeaders(read.headers)).toEqual([]);
        expect(read.headers.get('vary')).toMatch(/\bOrigin\b/); // CORS is on: the answer depends on the origin
      }
    });

    it('without CORS_ORIGINS, no CORS header at all, whatever the origin', async () => {
      const res = await preflight(noCors.url, ORIGIN);
      expect(res.status).not.toBe(204);
      expect(corsHeaders(res.headers)).toEqual([]);
      expect(res.headers.get('vary')).toBeNull();
      const read = await http('GET', `${noCors.url}/openapi.json`, { headers: { origin: ORIGIN } });
      expect(read.status).toBe(200);
      expect(corsHeaders(read.headers)).toEqual([]);
    });
  });

  // Last: it blocks this machine's address for the window.
  describe('failed authentications', () => {
    it('the 21st wrong key from one client, over both replicas, is 429 AUTH_RATE_LIMITED with Retry-After; after the window keys work again', async () => {
      const user = await createUser(stack.api, stack.adminKey, 'payg');
      // Held as valid by the first replica only.
      expect((await quota(stack.api, stack.adminKey)).status).toBe(200);
      // Earlier tests' refusals (revoked keys) counted too: start from a clean count.
      const cleaner = createRedis(testRedisUrl());
      await cleaner.del(`${stack.redisPrefix}:auth:failures:127.0.0.1`);
      cleaner.disconnect();

      const answers = [];
      for (let i = 0; i < 25; i++) {
        // Alternating replicas: the count is one, in Redis. Three wrong keys over and over: a
        // replica answers a repeat from its negative cache, and it still counts as a failure.
        const base = i % 2 === 0 ? stack.api : replica2.url;
        answers.push(await quota(base, `qv_wrong_${i % 3}`));
      }
      expect(answers.map((r) => r.status)).toEqual([...Array(20).fill(401), ...Array(5).fill(429)]);
      for (const r of answers.slice(0, 20)) expect(r.body.error.code).toBe('UNAUTHENTICATED');
      const limited = answers[20];
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(WINDOW_MS / 1000);
      expect(limited.body).toEqual({ error: { code: 'AUTH_RATE_LIMITED', message: expect.any(String), retryAfterSeconds: retryAfter } });
      expect(limited.headers.get('cache-control')).toBe('no-store');

      // While blocked: a valid key this replica does not hold is refused without a look-up; one it
      // holds as valid passes (a user behind the same NAT keeps working while cached).
      const blocked = await quota(stack.api, user.key);
      expect(blocked.status).toBe(429);
      expect(blocked.body.error.code).toBe('AUTH_RATE_LIMITED');
      expect((await quota(stack.api, stack.adminKey)).status).toBe(200);
      // A missing key is not a guess: still 401.
      expect((await quota(stack.api)).status).toBe(401);

      await new Promise((r) => setTimeout(r, retryAfter * 1000 + 200));
      expect((await quota(stack.api, user.key)).status).toBe(200);
      expect((await quota(replica2.url, user.key)).status).toBe(200);
      expect((await quota(replica2.url, 'qv_wrong_again')).status).toBe(401); // the count started afresh
    }, 30_000);
  });
});
