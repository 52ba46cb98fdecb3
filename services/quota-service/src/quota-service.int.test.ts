import { readFileSync } from 'node:fs';
import { ChargeBatchResponse, ChargeResponse, ErrorBody, QuotaStatus, ReservationResponse } from '@qv/contracts';
import { createTestDatabase, startService, testServiceCredentials, type ServiceProcess, type TestDatabase } from '@qv/testing';
import { Agent, request } from 'undici';
import { chargeBody, createUser, LIMIT_SCENARIOS } from '@qv/quota/testing';

let db: TestDatabase;
let services: ServiceProcess[] = [];
const agent = new Agent({ connections: 200, pipelining: 1 });
const credentials = testServiceCredentials();

beforeAll(async () => {
  db = await createTestDatabase();
  services = await Promise.all([0, 1, 2].map(() => startService('quota-service', {
        DATABASE_URL: db.url,
        DB_POOL_SIZE: '6',
        RESERVATION_TTL_SECONDS: '600',
        // These tests prove exactness under contention: every charge must reach the SQL, so no
        // user's line may turn one away (the admission line itself is e2e/burst-fairness's subject).
        CHARGE_ADMISSION_QUEUE: '100000',
        CHARGE_ADMISSION_WAIT_MS: '60000',
        ...credentials.envOf('quota-service'),
      })));
}, 60_000);
afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await agent.close();
  await db.drop();
});

async function call(base: string, method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await request(base + path, {
    method,
    dispatcher: agent,
    // As api-service, the one caller of these routes (e2e/internal-auth covers the refusals).
    headers: body === undefined ? credentials.as('api-service') : { ...credentials.as('api-service'), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

describe('one quota-service over HTTP', () => {
  const base = () => services[0].url;

  it('charges (201), replays the same key (200), and reports the quota', async () => {
    const userId = await createUser(db.query, 'free');
    const body = chargeBody(userId, 250);
    const first = await call(base(), 'POST', '/internal/charges', body);
    expect(first.status).toBe(201);
    const parsed = ChargeResponse.parse(first.body);
    expect(parsed).toMatchObject({ replayed: false, reservation: { userId, itemId: body.itemId, status: 'RESERVED', estimatedTokens: 250 } });
    expect(Date.parse(parsed.reservation.expiresAt) - Date.parse(parsed.reservation.createdAt)).toBe(600_000);
    const again = await call(base(), 'POST', '/internal/charges', body);
    expect(again.status).toBe(200);
    expect(ChargeResponse.parse(again.body)).toMatchObject({ replayed: true, reservation: { id: parsed.reservation.id } });
    const quota = await call(base(), 'GET', `/internal/users/${userId}/quota`);
    expect(quota.status).toBe(200);
    expect(QuotaStatus.parse(quota.body).quotas).toMatchObject({
      enrichmentsPerDay: { used: 1, limit: 50, remaining: 49 },
      concurrentJobs: { used: 1, limit: 3, remaining: 2 },
      tokensPerDay: { used: 250, limit: 10_000, remaining: 9750 },
    });
  });

  it('refuses with 429, the first failing code, Retry-After and the status as details, and logs one line', async () => {
    const userId = await createUser(db.query, 'free', { concurrentJobs: 1 });
    expect((await call(base(), 'POST', '/internal/charges', chargeBody(userId, 1))).status).toBe(201);
    const refused = await call(base(), 'POST', '/internal/charges', chargeBody(userId, 1));
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('2');
    const error = ErrorBody.parse(refused.body).error;
    expect(error).toMatchObject({ code: 'CONCURRENCY_LIMIT_EXCEEDED', retryAfterSeconds: 2 });
    expect(QuotaStatus.parse(error.details)).toMatchObject({ plan: 'free', level: 'exceeded', quotas: { concurrentJobs: { used: 1, limit: 1, remaining: 0 } } });

    const daily = await createUser(db.query, 'free', { enrichmentsPerDay: 0 });
    const r = await call(base(), 'POST', '/internal/charges', chargeBody(daily, 1));
    const now = Date.now();
    const midnight = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate() + 1);
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('DAILY_QUOTA_EXCEEDED');
    expect(Math.abs(Number(r.headers['retry-after']) - Math.ceil((midnight - now) / 1000))).toBeLessThanOrEqual(2);

    await new Promise((resolve) => setTimeout(resolve, 200));
    const lines = readFileSync(services[0].logFile, 'utf8').split('\n').filter((l) => l.includes('"quota exceeded"') && l.includes(userId));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ userId, plan: 'free', code: 'CONCURRENCY_LIMIT_EXCEEDED', retryAfterSeconds: 2 });
  });

  it('404 for an unknown user or reservation, 400 for a bad body', async () => {
    const unknown = await call(base(), 'POST', '/internal/charges', chargeBody('usr_nobody', 1));
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    expect(await call(base(), 'GET', '/internal/users/usr_nobody/quota')).toMatchObject({ status: 404 });
    expect(await call(base(), 'POST', '/internal/reservations/rsv_nope/release', { v: 1 })).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    const bad = await call(base(), 'POST', '/internal/charges', { v: 1, userId: 'u', itemId: 'i', idempotencyKey: 'k', estimatedTokens: -1 });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
    expect(await call(base(), 'POST', '/internal/reservations/rsv_nope/release', { v: 2 })).toMatchObject({ status: 400 });
  });

  it('releases once, and the status reads what the charges and the release left', async () => {
    const userId = await createUser(db.query, 'free');
    ChargeResponse.parse((await call(base(), 'POST', '/internal/charges', chargeBody(userId, 300))).body);
    const b = ChargeResponse.parse((await call(base(), 'POST', '/internal/charges', chargeBody(userId, 200))).body).reservation;
    const released = await call(base(), 'POST', `/internal/reservations/${b.id}/release`, { v: 1, reason: 'job failed' });
    expect(ReservationResponse.parse(released.body)).toMatchObject({ changed: true, reservation: { id: b.id, status: 'RELEASED' } });
    expect((await call(base(), 'POST', `/internal/reservations/${b.id}/release`, { v: 1 })).body).toMatchObject({ changed: false });
    const quota = QuotaStatus.parse((await call(base(), 'GET', `/internal/users/${userId}/quota`)).body);
    expect(quota.quotas).toMatchObject({ enrichmentsPerDay: { used: 1 }, concurrentJobs: { used: 1 }, callsPerHour: { used: 1 }, tokensPerDay: { used: 300 }, tokensPerMonth: { used: 300 } });
  });

  it('has no settle route: settlement is the ledger\'s, with its entry', async () => {
    expect(await call(base(), 'POST', '/internal/reservations/rsv_nope/settle', { v: 1, actualTokens: 1 })).toMatchObject({ status: 404 });
  });

  it('serves /healthz, /readyz and /metrics with charge counters and the latency histogram', async () => {
    expect(await call(base(), 'GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok', service: 'quota-service' } });
    expect(await call(base(), 'GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ready', checks: { postgres: 'ok' } } });
    const res = await request(`${base()}/metrics`, { dispatcher: agent, headers: credentials.as('metrics') });
    const text = await res.body.text();
    expect(text).toMatch(/quota_charges_total\{outcome="accepted",code="NONE",service="quota-service"\} \d+/);
    expect(text).toMatch(/quota_charges_total\{outcome="refused",code="CONCURRENCY_LIMIT_EXCEEDED",service="quota-service"\} 1/);
    expect(text).toMatch(/quota_charge_duration_seconds_count\{service="quota-service",outcome="accepted"\} [1-9]\d*/);
  });
});

describe('three quota-service processes at once', () => {
  // Requests spread round-robin over the three processes, all fired together.
  const spread = (n: number, body: (i: number) => unknown) =>
    Promise.all(Array.from({ length: n }, (_, i) => call(services[i % services.length].url, 'POST', '/internal/charges', body(i))));

  it.each(LIMIT_SCENARIOS.map((s) => [s.code, s] as const))('%s: 500 concurrent charges against 20 remaining → exactly 20 accepted', async (code, scenario) => {
    const userId = await scenario.setUp(db.query, new Date());
    const results = await spread(500, () => chargeBody(userId, scenario.estimate));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201).length).toBe(20);
    expect(statuses.filter((s) => s === 429).length).toBe(480);
    expect(new Set(results.filter((r) => r.status === 429).map((r) => r.body.error.code))).toEqual(new Set([code]));
    const [{ n }] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ai_usage_reservations WHERE user_id = $1`, [userId]);
    expect(n).toBe(20);
  });

  it.each(LIMIT_SCENARIOS.map((s) => [s.code, s] as const))('%s: 10 users × 60 single charges at once, interleaved (as quota-service groups them), 20 left each → exactly 20 per user', async (code, scenario) => {
    // One after another: db.query is one client, which runs one statement at a time.
    const users: string[] = [];
    for (let i = 0; i < 10; i++) users.push(await scenario.setUp(db.query, new Date()));
    const results = await spread(600, (i) => chargeBody(users[i % users.length], scenario.estimate));
    expect(results.filter((r) => r.status === 201)).toHaveLength(200);
    expect(new Set(results.filter((r) => r.status !== 201).map((r) => `${r.status} ${r.body.error.code}`))).toEqual(new Set([`429 ${code}`]));
    const rows = await db.query<{ user_id: string; n: number }>(`SELECT user_id, count(*)::int AS n FROM ai_usage_reservations WHERE user_id = ANY($1) GROUP BY user_id`, [users]);
    expect(rows.map((r) => r.n)).toEqual(Array(10).fill(20));
  }, 60_000);

  it('the same key charged 20 times at once over three processes: one reservation, one charge, one id', async () => {
    const userId = await createUser(db.query, 'free');
    const body = chargeBody(userId, 40);
    const results = await spread(20, () => body);
    expect(results.map((r) => r.status).sort()).toEqual([...Array(19).fill(200), 201]);
    expect(new Set(results.map((r) => r.body.reservation.id)).size).toBe(1);
    const [row] = await db.query<{ n: number; enrichments: number; tokens: string }>(
      `SELECT (SELECT count(*)::int FROM ai_usage_reservations WHERE user_id = $1) AS n, d.enrichments, d.tokens::text FROM ai_daily_usage d WHERE d.user_id = $1`,
      [userId],
    );
    expect(row).toEqual({ n: 1, enrichments: 1, tokens: '40' });
  });
});

describe('charges in batches (POST /internal/charges/batch)', () => {
  const base = () => services[0].url;

  it('answers each charge in order, as it would alone: accepted, refused with its code and Retry-After, unknown user, replayed', async () => {
    const a = await createUser(db.query, 'free');
    const full = await createUser(db.query, 'free', { enrichmentsPerDay: 0 });
    const first = chargeBody(a, 30);
    expect((await call(base(), 'POST', '/internal/charges', first)).status).toBe(201);
    const b = await createUser(db.query, 'free');
    const res = await call(base(), 'POST', '/internal/charges/batch', { v: 1, charges: [chargeBody(b, 20), chargeBody(full, 20), chargeBody('usr_nobody', 20), first] });
    expect(res.status).toBe(200);
    const { results } = ChargeBatchResponse.parse(res.body);
    expect(results[0]).toMatchObject({ charge: { replayed: false, reservation: { userId: b, estimatedTokens: 20, status: 'RESERVED' } } });
    expect(results[1]).toMatchObject({ status: 429, error: { code: 'DAILY_QUOTA_EXCEEDED' } });
    expect((results[1] as { error: { retryAfterSeconds?: number } }).error.retryAfterSeconds).toBeGreaterThan(0);
    expect(results[2]).toMatchObject({ status: 404, error: { code: 'NOT_FOUND' } });
    expect(results[3]).toMatchObject({ charge: { replayed: true } });
    const [{ n }] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ai_usage_reservations WHERE user_id = ANY($1)`, [[a, b, full]]);
    expect(n).toBe(2);
  });

  it('refuses a bad batch with 400 and charges nothing: empty, over 64, one bad charge (past 2^31, a NUL byte, a lone surrogate)', async () => {
    const u = await createUser(db.query, 'free');
    const many = Array.from({ length: 65 }, () => chargeBody(u, 1));
    const oneBad = (bad: Record<string, unknown>) => [chargeBody(u, 1), { ...chargeBody(u, 1), ...bad }];
    for (const charges of [[], many, oneBad({ estimatedTokens: 2 ** 31 }), oneBad({ idempotencyKey: 'key\u0000x' }), oneBad({ itemId: 'itm_\ud800' })]) {
      const res = await call(base(), 'POST', '/internal/charges/batch', { v: 1, charges });
      expect([res.status, (res.body as ErrorBody).error.code]).toEqual([400, 'VALIDATION_FAILED']);
    }
    expect(await db.query(`SELECT 1 FROM ai_usage_reservations WHERE user_id = $1`, [u])).toHaveLength(0);
  });

  it('is api-service\'s alone: 401 without a credential, 403 for the worker', async () => {
    const body = JSON.stringify({ v: 1, charges: [chargeBody('usr_x', 1)] });
    const anonymous = await request(`${base()}/internal/charges/batch`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body });
    expect(anonymous.statusCode).toBe(401);
    await anonymous.body.text();
    const worker = await request(`${base()}/internal/charges/batch`, { method: 'POST', dispatcher: agent, headers: { ...credentials.as('enrichment-worker'), 'content-type': 'application/json' }, body });
    expect(worker.statusCode).toBe(403);
    await worker.body.text();
  });

  it.each(LIMIT_SCENARIOS.map((s) => [s.code, s] as const))('%s: 100 batches of 10 users over three processes at once, 20 left each → exactly 20 per user', async (_code, scenario) => {
    // One after another: db.query is one client, which runs one statement at a time.
    const users: string[] = [];
    for (let i = 0; i < 10; i++) users.push(await scenario.setUp(db.query, new Date()));
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => call(services[i % services.length].url, 'POST', '/internal/charges/batch', { v: 1, charges: users.map((u) => chargeBody(u, scenario.estimate)) })),
    );
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([200]));
    const accepted = results.flatMap((r) => ChargeBatchResponse.parse(r.body).results).filter((x) => 'charge' in x);
    expect(accepted).toHaveLength(200);
    const rows = await db.query<{ user_id: string; n: number }>(`SELECT user_id, count(*)::int AS n FROM ai_usage_reservations WHERE user_id = ANY($1) GROUP BY user_id`, [users]);
    expect(rows.map((r) => r.n)).toEqual(Array(10).fill(20));
  }, 60_000);
});
