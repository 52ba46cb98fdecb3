// Service credentials over real HTTP (DESIGN.md §9, SECURITY.md). The routes probed are read from the
// services' own Express routers (listRoutes over the apps their main.ts serves), not from a list kept
// here: a route added tomorrow is probed tomorrow, and one added without its `allow` guard fails.
import { ErrorBody, type CacheGetResponse, type CacheStats, type ChargeResponse, type CreateItemResponse } from '@qv/contracts';
import { AUTHENTICATED_CALLERS, createHttpApp, generateServiceToken, listRoutes, OPEN_PATHS, ServiceAuthenticator, type ListedRoute, type ServiceCaller } from '@qv/http';
import { chargeBody } from '@qv/quota/testing';
import { createLogger, Registry } from '@qv/telemetry';
import { createUser, http, startService, type ServiceProcess, type Stack, startStack, waitForItem } from '@qv/testing';
import { readFileSync } from 'node:fs';
import { createApp as createCacheApp } from '../services/cache-service/src/app';
import type { CacheService } from '@qv/cache';
import { createApp as createQuotaApp } from '../services/quota-service/src/app';

const silent = createLogger('internal-auth-e2e', 'silent');
const noAuth = new ServiceAuthenticator({});

/** The apps exactly as the services build them (no I/O at construction), for their routes. */
const ROUTES: Record<'quota-service' | 'cache-service' | 'operations', ListedRoute[]> = {
  'quota-service': listRoutes(createQuotaApp({ db: {} as never, logger: silent, metrics: new Registry(), readiness: [], reservationTtlSeconds: 60, serviceAuth: noAuth }).app),
  'cache-service': listRoutes(createCacheApp({ cache: {} as CacheService, logger: silent, metrics: new Registry(), readiness: [], serviceAuth: noAuth }).app),
  // serveOperations (worker, ledger-consumer) serves createHttpApp and nothing else.
  operations: listRoutes(createHttpApp({ service: 'operations', logger: silent, metrics: new Registry(), readiness: [], serviceAuth: noAuth })),
};

const protectedRoutes = (routes: ListedRoute[]) => routes.filter((r) => !OPEN_PATHS.has(r.path));
/** A concrete path for a route pattern (`:id` → an id that exists nowhere). */
const concrete = (path: string) => path.replace(/:(\w+)/g, (_m, name: string) => `${name === 'userId' ? 'usr' : 'rsv'}_auth_probe`);
const name = (r: ListedRoute) => `${r.method} ${r.path}`;
/** A body no route accepts, so an authorised probe changes nothing (400), while a refused one never gets that far. */
const PROBE_BODY = { v: 0, tier: 'no-such-tier' };

let stack: Stack;
const url = (service: ServiceName) => stack.services[service]!.url;
type ServiceName = 'quota-service' | 'cache-service' | 'enrichment-worker' | 'ledger-consumer';

/** A probe of any route: what is read of its answer is the error, when there is one. */
async function call(method: string, target: string, headers: Record<string, string> = {}, body: unknown = method === 'GET' ? undefined : PROBE_BODY) {
  return http<Partial<ErrorBody> | null>(method, target, { headers, body });
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  stack = await startStack();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('the routes, as the routers declare them', () => {
  it('are found, and every one but /healthz and /readyz names its callers', () => {
    // Guards against a walk that finds nothing (and so probes nothing).
    expect(ROUTES['quota-service'].map(name)).toEqual(expect.arrayContaining(['POST /internal/charges', 'GET /metrics', 'GET /healthz']));
    expect(ROUTES['cache-service'].map(name)).toEqual(expect.arrayContaining(['POST /internal/cache/purge', 'POST /internal/cache/put', 'GET /metrics']));
    expect(ROUTES.operations.map(name).sort()).toEqual(['GET /healthz', 'GET /metrics', 'GET /readyz']);
    for (const routes of Object.values(ROUTES)) {
      expect(routes.filter((r) => OPEN_PATHS.has(r.path)).map((r) => r.callers)).toEqual([undefined, undefined]);
      for (const route of protectedRoutes(routes)) expect({ route: name(route), guarded: (route.callers?.length ?? 0) > 0 }).toEqual({ route: name(route), guarded: true });
    }
    // Least rights, read from the routers: /metrics is the scraper's alone; the worker has no quota route.
    for (const routes of Object.values(ROUTES)) expect(routes.find((r) => r.path === '/metrics')?.callers).toEqual(['metrics']);
    expect(ROUTES['quota-service'].filter((r) => r.callers?.includes('enrichment-worker'))).toEqual([]);
    expect(protectedRoutes(ROUTES['quota-service']).filter((r) => r.path !== '/metrics').every((r) => r.callers!.join() === 'api-service')).toBe(true);
  });
});

describe.each([
  ['quota-service', 'quota-service'],
  ['cache-service', 'cache-service'],
  ['enrichment-worker', 'operations'],
  ['ledger-consumer', 'operations'],
] as const)('%s over HTTP', (service, routesOf) => {
  const routes = () => protectedRoutes(ROUTES[routesOf]);
  const known = AUTHENTICATED_CALLERS[service];

  it('refuses every route without a credential, with a wrong one, or a malformed header: 401 UNAUTHENTICATED', async () => {
    const someKnown = stack.credentials[known[0]];
    const attempts: Record<string, Record<string, string>> = {
      none: {},
      wrong: bearer(generateServiceToken()),
      'one character off': bearer(`${someKnown.slice(0, -1)}${someKnown.endsWith('A') ? 'B' : 'A'}`),
      'a prefix': bearer(someKnown.slice(0, 20)),
      'not Bearer': { authorization: `Basic ${someKnown}` },
      'no scheme': { authorization: someKnown },
      'another header': { 'x-service-token': someKnown },
    };
    for (const route of routes()) {
      for (const [attempt, headers] of Object.entries(attempts)) {
        const res = await call(route.method, url(service) + concrete(route.path), headers);
        expect({ route: name(route), attempt, status: res.status, code: res.body?.error?.code }).toEqual({ route: name(route), attempt, status: 401, code: 'UNAUTHENTICATED' });
        expect(ErrorBody.safeParse(res.body).success).toBe(true);
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="quota-vault-internal"');
      }
    }
  });

  it('refuses a known caller without the right (403 FORBIDDEN) and lets the ones with it through', async () => {
    let probes = 0;
    for (const route of routes()) {
      for (const caller of known) {
        const res = await call(route.method, url(service) + concrete(route.path), bearer(stack.credentials[caller]));
        const allowed = route.callers!.includes(caller);
        probes++;
        if (allowed) expect({ route: name(route), caller, refused: [401, 403].includes(res.status) }).toEqual({ route: name(route), caller, refused: false });
        else expect({ route: name(route), caller, status: res.status, code: res.body?.error?.code }).toEqual({ route: name(route), caller, status: 403, code: 'FORBIDDEN' });
      }
    }
    expect(probes).toBeGreaterThan(0);
  });

  it('answers /healthz and /readyz without a credential', async () => {
    expect((await call('GET', `${url(service)}/healthz`)).status).toBe(200);
    expect((await call('GET', `${url(service)}/readyz`)).status).toBe(200);
  });

  it('serves /metrics to the scraper credential', async () => {
    const res = await fetch(`${url(service)}/metrics`, { headers: stack.as('metrics') });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(new RegExp(`^process_cpu_user_seconds_total\\{service="${service}"\\} `, 'm'));
  });
});

describe('least rights, case by case', () => {
  it("the worker's credential cannot charge; api-service's can", async () => {
    const { id: userId } = await createUser(stack.api, stack.adminKey, 'free');
    const body = chargeBody(userId, 400_000);
    const charges = `${url('quota-service')}/internal/charges`;
    for (const caller of ['enrichment-worker', 'metrics'] as ServiceCaller[]) {
      const refused = await http<ErrorBody>('POST', charges, { headers: stack.as(caller), body });
      expect({ caller, status: refused.status, code: refused.body.error.code }).toEqual({ caller, status: 403, code: 'FORBIDDEN' });
    }
    expect((await http('POST', charges, { body })).status).toBe(401);
    expect(await stack.db.query('SELECT 1 FROM ai_usage_reservations WHERE user_id = $1', [userId])).toHaveLength(0);

    const accepted = await http<ChargeResponse>('POST', charges, { headers: stack.as('api-service'), body: chargeBody(userId, 250) });
    expect(accepted.status).toBe(201);
    const reservation = accepted.body.reservation.id;
    // Nor can the worker release it, or read the user's quota.
    const quotaBase = url('quota-service');
    expect((await http('POST', `${quotaBase}/internal/reservations/${reservation}/release`, { headers: stack.as('enrichment-worker'), body: { v: 1 } })).status).toBe(403);
    expect((await http('GET', `${quotaBase}/internal/users/${userId}/quota`, { headers: stack.as('enrichment-worker') })).status).toBe(403);
    const [row] = await stack.db.query<{ status: string }>('SELECT status FROM ai_usage_reservations WHERE id = $1', [reservation]);
    expect(row.status).toBe('RESERVED');
  });

  it("the worker's credential reads and writes the cache, and cannot purge, warm or read the stats; api-service's operates it and cannot read or write entries", async () => {
    const cache = url('cache-service');
    const key = { tier: 'content', scope: 'usr_auth_a', task: 'summarize', model: 'sim-1', promptVersion: 'v1', input: 'private to usr_auth_a' };
    const entry = { value: { summary: 'secret' }, tokens: 10, model: 'sim-1' };
    const asWorker = stack.as('enrichment-worker');
    const asApi = stack.as('api-service');

    // No credential: nothing written, nothing read, nothing purged.
    expect((await http('POST', `${cache}/internal/cache/put`, { body: { v: 1, key, entry, ttlSeconds: 600 } })).status).toBe(401);
    const systemKey = { ...key, tier: 'system', scope: 'global', input: 'shared system prompt' };
    expect((await http('POST', `${cache}/internal/cache/put`, { headers: bearer(generateServiceToken()), body: { v: 1, key: systemKey, entry, ttlSeconds: null } })).status).toBe(401);
    expect((await http('POST', `${cache}/internal/cache/purge`, { body: {} })).status).toBe(401);
    expect(await stack.db.query("SELECT 1 FROM ai_cache WHERE type = 'system' AND user_id = 'global' AND value::text LIKE '%secret%'")).toHaveLength(0);

    expect((await http('POST', `${cache}/internal/cache/put`, { headers: asWorker, body: { v: 1, key, entry, ttlSeconds: 600 } })).body).toEqual({ stored: true });
    expect((await http('POST', `${cache}/internal/cache/get`, { headers: asWorker, body: { v: 1, key } })).body).toEqual({ hit: true, entry });
    expect((await http('POST', `${cache}/internal/cache/get`, { body: { v: 1, key } })).status).toBe(401);
    // api-service's chat path reads and fills the cache in its own process (libs/cache): no entry route is its.
    for (const [path, body] of [
      ['/internal/cache/get', { v: 1, key }],
      ['/internal/cache/put', { v: 1, key, entry: { ...entry, value: { summary: 'overwritten' } }, ttlSeconds: 600 }],
      ['/internal/cache/put-many', { v: 1, puts: [{ key, entry: { ...entry, value: { summary: 'overwritten' } }, ttlSeconds: 600 }] }],
      ['/internal/cache/lookup', { v: 1, key }],
      ['/internal/cache/lookup-many', { v: 1, keys: [key] }],
    ] as const) {
      const res = await http<ErrorBody>('POST', cache + path, { headers: asApi, body });
      expect({ path, status: res.status, code: res.body.error?.code }).toEqual({ path, status: 403, code: 'FORBIDDEN' });
    }

    for (const [method, path, body] of [['POST', '/internal/cache/purge', {}], ['POST', '/internal/cache/warm', {}], ['GET', '/internal/cache/stats', undefined], ['POST', '/internal/cache/delete', { v: 1, key }]] as const) {
      const res = await http<ErrorBody>(method, cache + path, { headers: asWorker, body });
      expect({ path, status: res.status, code: res.body.error?.code }).toEqual({ path, status: 403, code: 'FORBIDDEN' });
    }
    // The entry survived the refused purge and delete.
    expect((await http<CacheGetResponse>('POST', `${cache}/internal/cache/get`, { headers: asWorker, body: { v: 1, key } })).body.hit).toBe(true);

    expect((await http('GET', `${cache}/internal/cache/stats`, { headers: asApi })).status).toBe(200);
    expect((await http('POST', `${cache}/internal/cache/purge`, { headers: asApi, body: { userId: 'usr_auth_a' } })).body).toEqual({ purged: 1 });
  });
});

describe('the pipeline with credentials', () => {
  it('an item goes to DONE (api → quota, worker → cache), and the admin API reads the cache stats (api → cache)', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const created = await http<CreateItemResponse>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: 'Internal calls carry a service credential, compared in constant time.', tasks: ['summarize', 'tag'] } });
    expect(created.status).toBe(202);
    const done = await waitForItem(stack.api, user.key, created.body.item.id);
    expect(done.status).toBe('DONE');
    const stats = await http<CacheStats>('GET', `${stack.api}/admin/cache/stats`, { key: stack.adminKey });
    expect(stats.status).toBe(200);
    expect(stats.body.tiers.content.entries).toBeGreaterThan(0);
  });

  it('api-service with a wrong credential fails closed (503, nothing charged) instead of passing a 401 on to the user', async () => {
    const api: ServiceProcess = await startService('api-service', { ...stack.envFor('api-service'), SERVICE_TOKEN_API: generateServiceToken(), OPS_PORT: '0' });
    try {
      const user = await createUser(api.url, stack.adminKey, 'pro_monthly');
      const refused = await http<ErrorBody>('POST', `${api.url}/v1/items`, { key: user.key, body: { content: 'never charged' } });
      expect({ status: refused.status, code: refused.body.error.code }).toEqual({ status: 503, code: 'QUOTA_SERVICE_UNAVAILABLE' });
      expect(await stack.db.query('SELECT 1 FROM ai_usage_reservations WHERE user_id = $1', [user.id])).toHaveLength(0);
      const stats = await http<ErrorBody>('GET', `${api.url}/admin/cache/stats`, { key: stack.adminKey });
      expect({ status: stats.status, code: stats.body.error.code }).toEqual({ status: 503, code: 'SERVICE_UNAVAILABLE' });
    } finally {
      await api.stop();
    }
  });
});

describe('rotation', () => {
  it('a server given `new,old` accepts both, so callers can move to the new one before the old is dropped', async () => {
    const next = generateServiceToken();
    const old = stack.credentials['api-service'];
    const started = await startService('quota-service', { ...stack.envFor('quota-service'), SERVICE_TOKEN_API: `${next},${old}` });
    try {
      const status = async (headers: Record<string, string>) => (await http('GET', `${started.url}/internal/users/usr_nobody/quota`, { headers })).status;
      expect([await status(bearer(next)), await status(bearer(old)), await status(bearer(generateServiceToken())), await status(bearer(`${next},${old}`))]).toEqual([404, 404, 401, 401]);
    } finally {
      await started.stop();
    }
  });
});

describe('production', () => {
  const REQUIRED: Record<string, string[]> = {
    'quota-service': ['SERVICE_TOKEN_API', 'SERVICE_TOKEN_METRICS'],
    'cache-service': ['SERVICE_TOKEN_API', 'SERVICE_TOKEN_WORKER', 'SERVICE_TOKEN_METRICS'],
    'enrichment-worker': ['SERVICE_TOKEN_WORKER', 'SERVICE_TOKEN_METRICS'],
    'ledger-consumer': ['SERVICE_TOKEN_METRICS'],
    'api-service': ['SERVICE_TOKEN_API'],
  };

  it.each(Object.entries(REQUIRED))('%s refuses to start without its credentials, naming each variable', async (service, variables) => {
    const env: Record<string, string> = { ...stack.envFor(service as never), NODE_ENV: 'production', OPS_PORT: '0' };
    for (const key of Object.keys(env)) if (key.startsWith('SERVICE_TOKEN_')) delete env[key];
    const error = await startService(service, env, 20_000).then(
      async (started) => {
        await started.stop();
        return new Error('started');
      },
      (err: Error) => err,
    );
    expect(error.message).toMatch(/exited with 1 before it was ready/);
    const log = readFileSync(/see (\S+)$/.exec(error.message)![1], 'utf8');
    for (const variable of variables) expect(log).toContain(`${variable}: required when NODE_ENV=production`);
  });

  it('quota-service starts in production once it has them', async () => {
    const started = await startService('quota-service', { ...stack.envFor('quota-service'), NODE_ENV: 'production' });
    try {
      expect((await http('GET', `${started.url}/internal/users/usr_nobody/quota`, { headers: stack.as('api-service') })).status).toBe(404);
      expect((await http('GET', `${started.url}/internal/users/usr_nobody/quota`)).status).toBe(401);
    } finally {
      await started.stop();
    }
  });
});
