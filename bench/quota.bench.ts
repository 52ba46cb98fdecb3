// `npm run bench -- quota`: charges per second and p50/p99 through quota-service over HTTP at 64
// concurrent clients, beside the same charge SQL run straight against PostgreSQL (pg Pool, 64
// concurrent) in the same run. Many users, so per-user locks do not serialise everything.
import { randomBytes } from 'node:crypto';
import { Pool, type PoolClient } from 'pg';
import { newId } from '@qv/contracts';
import { dayWindow, monthWindow, rollingHourStart } from '@qv/quota';
import globalSetup from '../libs/testing/src/global-setup';
import { createTestDatabase, startService } from '../libs/testing/src';

// autocannon ships no types; this is the part of its API used here.
interface HttpResult {
  duration: number;
  errors: number;
  non2xx: number;
  latency: { p50: number; p99: number };
  statusCodeStats?: Record<string, { count: number }>;
}
interface HttpRequestSpec {
  method: string;
  headers: Record<string, string>;
  setupRequest: (req: Record<string, unknown>) => Record<string, unknown>;
}
type Autocannon = (opts: { url: string; connections: number; duration: number; requests: HttpRequestSpec[] }, done: (err: Error | null, result: HttpResult) => void) => void;
const autocannon: Autocannon = require('autocannon');

const CONNECTIONS = 64;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const USERS = 1000;
const POOL = Number(process.env.BENCH_POOL ?? 20);
const ESTIMATE = 500;
// Limits large enough never to refuse, but not null: every one of the five checks still runs.
const LARGE = { concurrentJobs: 1_000_000, callsPerHour: 1_000_000, enrichmentsPerDay: 1_000_000, tokensPerDay: 1e12, tokensPerMonth: 1e13 };

const pick = (users: string[]) => users[Math.floor(Math.random() * users.length)];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The statements `charge()` of libs/quota runs, with the same locking, in the same order. */
async function rawCharge(client: PoolClient, userId: string): Promise<boolean> {
  const now = new Date();
  const day = dayWindow(now).key;
  const month = monthWindow(now).key;
  const key = `raw_${randomBytes(9).toString('base64url')}`;
  await client.query('BEGIN');
  try {
    const limits = await client.query(
      `SELECT u.plan_id, p.enrichments_per_day, p.concurrent_jobs, p.calls_per_hour, p.tokens_per_day,
              p.tokens_per_month, p.session_ttl_seconds, p.content_ttl_seconds, o.limits AS overrides
         FROM users u JOIN plans p ON p.id = u.plan_id LEFT JOIN user_quota_overrides o ON o.user_id = u.id
        WHERE u.id = $1 FOR NO KEY UPDATE OF u`,
      [userId],
    );
    const l = { ...limits.rows[0], ...limits.rows[0].overrides };
    const usage = await client.query(
      `SELECT f.in_flight, f.earliest_expiry, h.calls_in_hour, h.oldest_call_at,
              (SELECT enrichments FROM ai_daily_usage WHERE user_id = $1 AND day = $3::date) AS enrichments_today,
              (SELECT tokens FROM ai_daily_usage WHERE user_id = $1 AND day = $3::date) AS tokens_today,
              (SELECT tokens FROM ai_monthly_usage WHERE user_id = $1 AND month = $4::date) AS tokens_this_month,
              (SELECT to_jsonb(r) FROM (SELECT id, user_id, item_id, idempotency_key, status, estimated_tokens, actual_tokens, day, month, created_at, expires_at
                                          FROM ai_usage_reservations WHERE idempotency_key = $5::text) r) AS existing
         FROM (SELECT count(*)::int AS in_flight, min(expires_at) AS earliest_expiry FROM ai_usage_reservations WHERE user_id = $1 AND status = 'RESERVED') f,
              (SELECT count(*)::int AS calls_in_hour, min(created_at) AS oldest_call_at FROM ai_usage_reservations
                WHERE user_id = $1 AND created_at > $2::timestamptz AND status <> 'RELEASED') h`,
      [userId, rollingHourStart(now), day, month, key],
    );
    const u = usage.rows[0];
    const ok =
      u.in_flight < l.concurrentJobs &&
      u.calls_in_hour < l.callsPerHour &&
      (u.enrichments_today ?? 0) < l.enrichmentsPerDay &&
      Number(u.tokens_today ?? 0) + ESTIMATE <= l.tokensPerDay &&
      Number(u.tokens_this_month ?? 0) + ESTIMATE <= l.tokensPerMonth;
    if (!ok) throw new Error('raw baseline refused a charge: the limits are meant to be out of reach');
    const written = await client.query(
      `WITH d AS (
         INSERT INTO ai_daily_usage AS u (user_id, day, enrichments, tokens)
         SELECT $1, $2::date, 1, $4::bigint WHERE ($7::int IS NULL OR 1 <= $7::int) AND ($8::bigint IS NULL OR $4::bigint <= $8::bigint)
         ON CONFLICT (user_id, day) DO UPDATE SET enrichments = u.enrichments + 1, tokens = u.tokens + EXCLUDED.tokens
          WHERE ($7::int IS NULL OR u.enrichments + 1 <= $7::int) AND ($8::bigint IS NULL OR u.tokens + EXCLUDED.tokens <= $8::bigint)
         RETURNING 1
       ), m AS (
         INSERT INTO ai_monthly_usage AS u (user_id, month, tokens)
         SELECT $1, $3::date, $4::bigint WHERE ($9::bigint IS NULL OR $4::bigint <= $9::bigint)
         ON CONFLICT (user_id, month) DO UPDATE SET tokens = u.tokens + EXCLUDED.tokens
          WHERE ($9::bigint IS NULL OR u.tokens + EXCLUDED.tokens <= $9::bigint)
         RETURNING 1
       ), r AS (
         INSERT INTO ai_usage_reservations (id, user_id, item_id, idempotency_key, status, estimated_tokens, day, month, created_at, expires_at)
         SELECT $10, $1, $11, $12, 'RESERVED', $4::int, $2::date, $3::date, $5::timestamptz, $6::timestamptz FROM d, m
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING id, user_id, item_id, idempotency_key, status, estimated_tokens, actual_tokens, day, month, created_at, expires_at
       )
       SELECT (SELECT count(*)::int FROM d) AS daily, (SELECT count(*)::int FROM m) AS monthly, (SELECT to_jsonb(r) FROM r) AS reservation`,
      [userId, day, month, ESTIMATE, now, new Date(now.getTime() + 900_000), l.enrichmentsPerDay, l.tokensPerDay, l.tokensPerMonth, newId('rsv'), newId('itm'), key],
    );
    if (!written.rows[0].reservation) throw new Error('raw baseline write refused');
    await client.query('COMMIT');
    return true;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

async function runRaw(pool: Pool, users: string[], seconds: number) {
  const latencies: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < deadline) {
        const t0 = process.hrtime.bigint();
        const client = await pool.connect();
        try {
          await rawCharge(client, pick(users));
        } finally {
          client.release();
        }
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        done++;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return { perSecond: done / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), total: done };
}

function runHttp(url: string, users: string[], seconds: number): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `${url}/internal/charges`,
        connections: CONNECTIONS,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            setupRequest: (req) => ({
              ...req,
              body: JSON.stringify({ v: 1, userId: pick(users), itemId: newId('itm'), idempotencyKey: `http_${randomBytes(9).toString('base64url')}`, estimatedTokens: ESTIMATE }),
            }),
          },
        ],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

async function main(): Promise<void> {
  await globalSetup();
  const db = await createTestDatabase();
  const users: string[] = [];
  for (let i = 0; i < USERS; i++) users.push(newId('usr'));
  await db.query(`INSERT INTO users (id, plan_id) SELECT unnest($1::text[]), 'pro_annual'`, [users]);
  await db.query(`INSERT INTO user_quota_overrides (user_id, limits) SELECT unnest($1::text[]), $2::jsonb`, [users, JSON.stringify(LARGE)]);

  const service = await startService('quota-service', { DATABASE_URL: db.url, DB_POOL_SIZE: String(POOL), LOG_LEVEL: 'warn' });
  const pool = new Pool({ connectionString: db.url, max: POOL });
  try {
    // Warm both paths (JIT, connection pools, PostgreSQL caches) before measuring.
    await runRaw(pool, users, 2);
    await runHttp(service.url, users, 2);

    const raw = await runRaw(pool, users, DURATION_S);
    const http = await runHttp(service.url, users, DURATION_S);
    const accepted = http.statusCodeStats?.['201']?.count ?? 0;
    if (http.non2xx || http.errors) throw new Error(`HTTP run had ${http.non2xx} non-2xx answers and ${http.errors} errors`);
    const httpPerSecond = Number(accepted) / http.duration;

    console.log(`quota charge, ${CONNECTIONS} concurrent, ${USERS} users, pool ${POOL}, ${DURATION_S} s each`);
    console.log(`  raw SQL (pg Pool)        ${raw.perSecond.toFixed(0).padStart(6)} charges/s   p50 ${raw.p50.toFixed(2)} ms   p99 ${raw.p99.toFixed(2)} ms   (${raw.total} charges)`);
    console.log(`  quota-service over HTTP  ${httpPerSecond.toFixed(0).padStart(6)} charges/s   p50 ${http.latency.p50.toFixed(2)} ms   p99 ${http.latency.p99.toFixed(2)} ms   (${accepted} charges)`);
    const ratio = httpPerSecond / raw.perSecond;
    console.log(`  ratio ${(ratio * 100).toFixed(1)} % of raw (target ≥ 40 %), p99 ${http.latency.p99} ms (target < 20 ms)`);
  } finally {
    await pool.end();
    await service.stop();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
