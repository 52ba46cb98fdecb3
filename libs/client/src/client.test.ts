import { QuotaVaultClient } from './client';
import { NetworkError, QuotaExceededError, ServiceUnavailableError } from './errors';
import type { QuotaSnapshot } from './quota';

const QUOTA_HEADERS = {
  'X-AI-Quota-Limit': '50',
  'X-AI-Quota-Remaining': '49',
  'X-AI-Quota-Reset': '1767312000',
  'X-AI-Quota-Tokens-Limit': '100000',
  'X-AI-Quota-Tokens-Remaining': '100000',
  'X-AI-Quota-Concurrency-Limit': '3',
  'X-AI-Quota-Concurrency-Remaining': '2',
};
const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const errorBody = (code: string, retryAfterSeconds?: number) => ({ error: { code, message: code, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) } });

function scripted(answers: Array<Response | Error>) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fetch = async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const next = answers.shift();
    if (!next) throw new Error('no more answers');
    if (next instanceof Error) throw next;
    return next;
  };
  return { fetch, calls };
}
const header = (init: RequestInit, name: string) => (init.headers as Record<string, string>)[name];

describe('QuotaVaultClient', () => {
  it('sends the key, parses the quota headers into lastQuota and onQuota', async () => {
    const seen: QuotaSnapshot[] = [];
    const { fetch, calls } = scripted([json(202, { item: { id: 'itm_1' }, quota: { plan: 'free' } }, QUOTA_HEADERS)]);
    const client = new QuotaVaultClient({ baseUrl: 'http://api.test/', apiKey: () => 'qv_key', fetch, onQuota: (q) => seen.push(q) });
    const result = await client.createItem({ content: 'hello' });
    expect(calls[0].url).toBe('http://api.test/v1/items');
    expect(header(calls[0].init, 'Authorization')).toBe('Bearer qv_key');
    expect(header(calls[0].init, 'Idempotency-Key')).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.idempotencyKey).toBe(header(calls[0].init, 'Idempotency-Key'));
    expect(result.item.id).toBe('itm_1');
    expect(result.replayed).toBe(false);
    expect(client.lastQuota).toMatchObject({ limit: 50, remaining: 49, used: 1, concurrencyRemaining: 2 });
    expect(seen).toEqual([client.lastQuota]);
  });

  it('retries a create after a network error, a 409 IN_USE and a 503, under one Idempotency-Key', async () => {
    const { fetch, calls } = scripted([
      new TypeError('fetch failed'),
      json(409, errorBody('IDEMPOTENCY_KEY_IN_USE')),
      json(503, errorBody('QUOTA_SERVICE_UNAVAILABLE', 0), { 'retry-after': '0' }),
      json(202, { item: { id: 'itm_2' }, quota: {} }, { ...QUOTA_HEADERS, 'Idempotent-Replayed': 'true' }),
    ]);
    const client = new QuotaVaultClient({ baseUrl: 'http://api.test', apiKey: 'k', fetch, retry: { baseDelayMs: 1 } });
    const result = await client.createItem({ content: 'x' });
    expect(calls).toHaveLength(4);
    expect(new Set(calls.map((c) => header(c.init, 'Idempotency-Key'))).size).toBe(1);
    expect(result.replayed).toBe(true);
  });

  it('gives up after maxAttempts with the last error', async () => {
    const { fetch, calls } = scripted([json(503, errorBody('SERVICE_UNAVAILABLE')), json(503, errorBody('SERVICE_UNAVAILABLE'))]);
    const client = new QuotaVaultClient({ baseUrl: 'http://api.test', fetch, retry: { baseDelayMs: 1, maxAttempts: 2 } });
    await expect(client.getQuota()).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(calls).toHaveLength(2);
  });

  it('does not retry a 429 quota refusal unless asked, and surfaces it as QuotaExceededError', async () => {
    const refusal = () => json(429, { error: { code: 'DAILY_QUOTA_EXCEEDED', message: 'limit', retryAfterSeconds: 0, details: { plan: 'free', level: 'exceeded', quotas: {} } } }, { 'retry-after': '0', ...QUOTA_HEADERS, 'X-AI-Quota-Remaining': '0' });
    const once = scripted([refusal()]);
    const client = new QuotaVaultClient({ baseUrl: 'http://api.test', fetch: once.fetch });
    const err = (await client.createItem({ content: 'x' }).catch((e) => e)) as QuotaExceededError;
    expect(err).toBeInstanceOf(QuotaExceededError);
    expect(err.code).toBe('DAILY_QUOTA_EXCEEDED');
    expect(err.retryAfterSeconds).toBe(0);
    expect(err.quota).toMatchObject({ limit: 50, remaining: 0, used: 50 });
    expect(err.quotaStatus?.plan).toBe('free');
    expect(client.lastQuota?.remaining).toBe(0);
    expect(once.calls).toHaveLength(1);

    const asked = scripted([refusal(), json(202, { item: {}, quota: {} })]);
    const patient = new QuotaVaultClient({ baseUrl: 'http://api.test', fetch: asked.fetch, retry: { retryTooManyRequests: true, baseDelayMs: 1 } });
    await patient.createItem({ content: 'x' });
    expect(asked.calls).toHaveLength(2);
  });

  it('does not wait out a Retry-After longer than maxDelayMs', async () => {
    const { fetch, calls } = scripted([json(503, errorBody('QUOTA_SERVICE_UNAVAILABLE', 60))]);
    const client = new QuotaVaultClient({ baseUrl: 'http://api.test', fetch, retry: { maxDelayMs: 1000 } });
    await expect(client.createItem({ content: 'x' })).rejects.toMatchObject({ code: 'QUOTA_SERVICE_UNAVAILABLE', retryAfterSeconds: 60 });
    expect(calls).toHaveLength(1);
  });

  it('never resends an admin POST (no key to dedupe it); network errors surface as NetworkError', async () => {
    const { fetch, calls } = scripted([new TypeError('fetch failed')]);
    const client = new QuotaVaultClient({ baseUrl: 'http://api.test', fetch, retry: { baseDelayMs: 1 } });
    const err = await client.admin.createUser({ plan: 'free' }).catch((e) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(err.status).toBe(0);
    expect(err.userMessage).toBe('Could not reach the service; check your connection.');
    expect(calls).toHaveLength(1);
  });

  it('finds users by email through the query string', async () => {
    const user = { id: 'usr_1', email: 'a+b@example.com', plan: 'free', role: 'user', overrides: {}, createdAt: '2026-12-02T00:00:00.000Z' };
    const { fetch, calls } = scripted([json(200, { users: [user] })]);
    const client = new QuotaVaultClient({ baseUrl: 'http://api.test', fetch });
    expect(await client.admin.findUsers({ email: 'a+b@example.com' })).toEqual([user]);
    expect(calls[0].url).toBe('http://api.test/admin/users?email=a%2Bb%40example.com');
  });

  it('reads the overview', async () => {
    const overview = { queues: { enrichment: { wait: 1, prioritized: 0, active: 2, delayed: 0, failed: 0, completed: 9 } }, deadLetters: 0, createRequests: { since: '2026-12-02T00:00:00.000Z', byStatus: { '202': 9, '429': 1 }, total: 10, refused: 1 } };
    const { fetch, calls } = scripted([json(200, overview)]);
    const client = new QuotaVaultClient({ baseUrl: 'http://api.test', fetch });
    expect(await client.admin.getOverview()).toEqual(overview);
    expect(calls[0].url).toBe('http://api.test/admin/overview');
  });

  it('builds query strings and escapes path parameters', async () => {
    const { fetch, calls } = scripted([json(200, { items: [], nextCursor: null }), json(200, { item: { id: 'a/b' } })]);
    const client = new QuotaVaultClient({ baseUrl: 'http://api.test', fetch });
    await client.listItems({ limit: 5 });
    await client.getItem('a/b');
    expect(calls.map((c) => c.url)).toEqual(['http://api.test/v1/items?limit=5', 'http://api.test/v1/items/a%2Fb']);
  });
});
