import { QUEUE_NAMES, type UsageEvent } from '@qv/contracts';
import { reconcile } from '@qv/ledger';
import { createQueue, createRedis } from '@qv/queue';
import { createTestDatabase, eventually, startService, testRedisPrefix, testRedisUrl, testServiceCredentials, type ServiceProcess, type TestDatabase } from '@qv/testing';
import type { Queue } from 'bullmq';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { Client } from 'pg';
import { completedEvent, failedEvent, insertUser, reserve, type Charged } from '@qv/ledger/testing';

/**
 * The ledger-consumer as a real process: kill -9 mid-stream and a second consumer finishes the
 * stream with every event applied exactly once; the periodic reconciliation exposes drift.
 */

const EVENTS = 300;
const USERS = 10;

let db: TestDatabase;
let redis: Redis;
let queue: Queue;
let prefix: string;
const started: ServiceProcess[] = [];
const credentials = testServiceCredentials();

const env = () => ({
  DATABASE_URL: db.url,
  REDIS_URL: testRedisUrl(),
  REDIS_PREFIX: prefix,
  QUEUE_CONCURRENCY: '4',
  DB_POOL_SIZE: '5',
  // Short locks so a dead consumer's jobs count as stalled within a second or two.
  QUEUE_LOCK_MS: '1500',
  QUEUE_STALL_CHECK_INTERVAL_MS: '500',
  RECONCILE_INTERVAL_MS: '300',
  SWEEP_INTERVAL_MS: '60000',
  ORPHAN_GRACE_SECONDS: '86400',
  ...credentials.envOf('ledger-consumer'),
});

beforeAll(async () => {
  db = await createTestDatabase();
  prefix = testRedisPrefix();
  redis = createRedis(testRedisUrl());
  queue = createQueue(QUEUE_NAMES.usageEvents, redis, prefix);
});
afterAll(async () => {
  for (const s of started) await s.kill();
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  redis.disconnect();
  await db.drop();
});

const ledgerCount = async () => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ai_usage_ledger`))[0].n);

/** What the worker publishes: job id = event id, its retry policy (see the enrichment worker's publisher). */
const publish = (events: UsageEvent[]) =>
  queue.addBulk(events.map((e) => ({ name: e.type, data: e, opts: { jobId: e.eventId, attempts: 20, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: { age: 3600 }, removeOnFail: false } })));

let charged: Charged[] = [];
let events: UsageEvent[] = [];

describe('ledger-consumer', () => {
  it('kill -9 mid-stream: a second consumer finishes it and every event is applied exactly once', async () => {
    const users: string[] = [];
    for (let i = 0; i < USERS; i++) users.push(await insertUser(db.query));
    charged = [];
    for (let i = 0; i < EVENTS; i++) charged.push(await reserve(db.sql, users[i % USERS], 1000, new Date()));
    // Every 6th job failed for good (a release); the rest completed with 1..999 actual tokens.
    events = charged.map((c, i) => (i % 6 === 5 ? failedEvent(c) : completedEvent(c, { prompt: (i * 37) % 900, completion: 1 + (i % 99) })));

    // Two reservations held by another transaction: the consumer's settlements of them hang, so
    // those two jobs are certainly in flight (and their transactions half done) when it dies.
    const blocker = new Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query(`SELECT 1 FROM ai_usage_reservations WHERE id = ANY($1) FOR UPDATE`, [[charged[3].reservationId, charged[4].reservationId]]);

    const first = await startService('ledger-consumer', env());
    started.push(first);
    // The stream arrives while the consumer works.
    for (let i = 0; i < EVENTS; i += 30) {
      await publish(events.slice(i, i + 30));
      await new Promise((r) => setTimeout(r, 20));
    }
    await eventually(async () => (await ledgerCount()) >= 40, 20_000, 10);
    await first.kill();
    const atKill = await ledgerCount();
    const activeAtKill = await queue.getActiveCount();
    expect(atKill).toBeGreaterThanOrEqual(40);
    expect(atKill).toBeLessThan(EVENTS);
    expect(activeAtKill).toBeGreaterThanOrEqual(2);
    await blocker.query('ROLLBACK');
    await blocker.end();

    const second = await startService('ledger-consumer', env());
    started.push(second);
    await eventually(async () => {
      const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'completed');
      return counts.completed === EVENTS && counts.wait + counts.active + counts.delayed + counts.prioritized === 0;
    }, 40_000, 100);

    // Exactly once: one entry per event, none twice.
    const [rows] = await db.query<{ n: number; distinct: number; failed: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS distinct, count(*) FILTER (WHERE kind = 'failed')::int AS failed FROM ai_usage_ledger`,
    );
    expect(rows).toEqual({ n: EVENTS, distinct: EVENTS, failed: EVENTS / 6 });
    expect(await queue.getFailedCount()).toBe(0);
    // Every reservation took its own event once, and each entry is the one that charged.
    const statuses = await db.query<{ id: string; status: string; actual_tokens: number | null; charged: boolean }>(
      `SELECT r.id, r.status, r.actual_tokens, l.charged FROM ai_usage_reservations r JOIN ai_usage_ledger l ON l.reservation_id = r.id`,
    );
    const byId = new Map(statuses.map((s) => [s.id, s]));
    events.forEach((e, i) => {
      const s = byId.get(charged[i].reservationId)!;
      if (e.type === 'usage.completed') expect(s).toMatchObject({ status: 'SETTLED', actual_tokens: e.promptTokens + e.completionTokens, charged: true });
      else expect(s).toMatchObject({ status: 'RELEASED', actual_tokens: null, charged: true });
    });
    // Counters: exactly the sum of the actual tokens, day and month, and the settled enrichments.
    for (const user of users) {
      const mine = events.filter((e) => e.userId === user);
      const tokens = mine.reduce((sum, e) => sum + (e.type === 'usage.completed' ? e.promptTokens + e.completionTokens : 0), 0);
      const [d] = await db.query<{ tokens: string; enrichments: number }>(`SELECT tokens::text, enrichments FROM ai_daily_usage WHERE user_id = $1`, [user]);
      const [m] = await db.query<{ tokens: string }>(`SELECT tokens::text FROM ai_monthly_usage WHERE user_id = $1`, [user]);
      expect({ day: Number(d.tokens), month: Number(m.tokens), enrichments: d.enrichments }).toEqual({ day: tokens, month: tokens, enrichments: mine.filter((e) => e.type === 'usage.completed').length });
    }
    for (const row of await reconcile(db.sql)) expect(row.drift).toBe(0);
    // Re-publishing the whole stream (a publisher retrying) adds nothing.
    await queue.clean(0, 1000, 'completed');
    await publish(events.slice(0, 50));
    await eventually(async () => (await queue.getCompletedCount()) === 50, 20_000, 100);
    expect(await ledgerCount()).toBe(EVENTS);
  }, 90_000);

  it('the periodic reconciliation exposes drift on /metrics and in the log', async () => {
    const consumer = started[started.length - 1];
    const gauge = async () => {
      const text = await (await fetch(`${consumer.url}/metrics`, { headers: credentials.as('metrics') })).text();
      const m = /^ledger_drift_tokens\{day="all"[^}]*\} (\d+)$/m.exec(text);
      return m ? Number(m[1]) : null;
    };
    await eventually(async () => (await gauge()) === 0, 10_000, 100);
    const user = charged[0].userId;
    await db.query(`UPDATE ai_daily_usage SET tokens = tokens + 37 WHERE user_id = $1`, [user]);
    expect(await eventually(async () => ((await gauge()) ?? 0) > 0 && (await gauge()), 10_000, 100)).toBe(37);
    const day = new Date().toISOString().slice(0, 10);
    const text = await (await fetch(`${consumer.url}/metrics`, { headers: credentials.as('metrics') })).text();
    expect(text).toContain(`ledger_drift_tokens{day="${day}",service="ledger-consumer"} 37`);
    const drifted = await eventually(async () => {
      const lines = readFileSync(consumer.logFile, 'utf8').split('\n').filter((l) => l.includes('"event":"ledger.drift"'));
      return lines.length ? lines.map((l) => JSON.parse(l)) : null;
    }, 5000, 100);
    expect(drifted[0]).toMatchObject({ userId: user, day, drift: 37 });
    // Repaired, the gauge falls back to 0.
    await db.query(`UPDATE ai_daily_usage SET tokens = tokens - 37 WHERE user_id = $1`, [user]);
    await eventually(async () => (await gauge()) === 0, 10_000, 100);
  });

  it('exposes the reservations settled above their estimate, per day, with the users concerned in the log', async () => {
    const consumer = started[started.length - 1];
    const metric = async (name: string) => {
      const text = await (await fetch(`${consumer.url}/metrics`, { headers: credentials.as('metrics') })).text();
      const m = new RegExp(`^${name}\\{day="all"[^}]*\\} (\\d+)$`, 'm').exec(text);
      return m ? Number(m[1]) : null;
    };
    // Every earlier event settled within its estimate of 1,000.
    await eventually(async () => (await metric('ledger_tokens_above_estimate')) === 0, 10_000, 100);
    const user = await insertUser(db.query);
    const within = await reserve(db.sql, user, 100, new Date());
    const above = [await reserve(db.sql, user, 100, new Date()), await reserve(db.sql, user, 50, new Date())];
    await publish([completedEvent(within, { prompt: 60, completion: 40 }), completedEvent(above[0], { prompt: 90, completion: 30 }), completedEvent(above[1], { prompt: 70, completion: 5 })]);
    expect(await eventually(async () => ((await metric('ledger_tokens_above_estimate')) || null), 10_000, 100)).toBe(20 + 25);
    expect(await metric('ledger_settled_above_estimate')).toBe(2);
    const logged = await eventually(async () => {
      const lines = readFileSync(consumer.logFile, 'utf8').split('\n').filter((l) => l.includes('"event":"ledger.above_estimate"'));
      return lines.length ? lines.map((l) => JSON.parse(l)) : null;
    }, 5000, 100);
    expect(logged[0]).toMatchObject({ day: new Date().toISOString().slice(0, 10), reservations: 2, tokens: 45, top: [{ userId: user, tokens: 45 }] });
  });
});
