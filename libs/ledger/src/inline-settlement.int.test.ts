import { QUEUE_NAMES, type UsageEvent } from '@qv/contracts';
import { createQueue, createRedis, UsageEventsPublisher } from '@qv/queue';
import { createLogger, createMetricsRegistry } from '@qv/telemetry';
import { freePort, testRedisPrefix, testRedisUrl, useTestDatabase } from '@qv/testing';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Pool } from 'pg';
import { applyUsageEvent } from './apply-usage-event';
import { InlineSettlement } from './inline-settlement';
import { settledUsageCounter } from './settled-usage-metrics';
import { completedEvent, failedEvent, insertUser, reserve } from './testing';
import { usageEventBatcher } from './usage-event-batcher';

/**
 * Settlement where the event arose (the chat path, the worker), on the real PostgreSQL (a database
 * of this file's own) and Redis (a prefix of its own): applied here in the ledger's own statement, once however often it is sent,
 * and queued for ledger-consumer when PostgreSQL cannot be reached here, never lost.
 */

const db = useTestDatabase();
const logger = createLogger('ledger-test', 'silent');
let redis: Redis;
let queue: Queue;
let prefix: string;

beforeAll(() => {
  redis = createRedis(testRedisUrl());
  prefix = testRedisPrefix();
  queue = createQueue(QUEUE_NAMES.usageEvents, redis, prefix);
});
afterAll(async () => {
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  redis.disconnect();
});

function settlement(pool: Pool) {
  const registry = createMetricsRegistry('ledger-test');
  const sink = new InlineSettlement({
    ledger: usageEventBatcher(pool, { maxBatch: 64, maxInFlight: 2 }),
    fallback: new UsageEventsPublisher(queue),
    count: settledUsageCounter(registry),
    logger,
  });
  const counted = async (outcome: string) => (await registry.getSingleMetric('ledger_events_total')!.get()).values.filter((v) => v.labels.outcome === outcome).reduce((sum, v) => sum + v.value, 0);
  return { sink, counted };
}

const entriesOf = async (userId: string) => db().query<{ kind: string; total_tokens: number }>('SELECT kind, total_tokens FROM ai_usage_ledger WHERE user_id = $1 ORDER BY kind', [userId]);
const reservationOf = async (id: string) => (await db().query<{ status: string; actual_tokens: number | null }>('SELECT status, actual_tokens FROM ai_usage_reservations WHERE id = $1', [id]))[0];

describe('InlineSettlement: a usage event settled where it arose', () => {
  it('applies a completion here, once however often it is sent, and queues nothing', async () => {
    const { sink, counted } = settlement(db().sql);
    const userId = await insertUser(db().query);
    const charged = await reserve(db().sql, userId, 500, new Date());
    const event = completedEvent(charged, { prompt: 40, completion: 60 });
    await Promise.all([sink.publish(event), sink.publish(event), sink.publish(event)]);
    await sink.publish(event);
    expect(await entriesOf(userId)).toEqual([{ kind: 'completed', total_tokens: 100 }]);
    expect(await reservationOf(charged.reservationId)).toEqual({ status: 'SETTLED', actual_tokens: 100 });
    expect([await counted('applied'), await counted('duplicate')]).toEqual([1, 3]);
    expect(await queue.getJobCountByTypes('waiting', 'delayed', 'active')).toBe(0);
  });

  it('settles the calls that end together in shared statements, each exactly as alone', async () => {
    const { sink } = settlement(db().sql);
    const users: string[] = [];
    for (let i = 0; i < 4; i++) users.push(await insertUser(db().query));
    const charges = await Promise.all(users.flatMap((u) => [reserve(db().sql, u, 300, new Date()), reserve(db().sql, u, 300, new Date())]));
    const events: UsageEvent[] = charges.map((c, i) => (i % 2 ? failedEvent(c) : completedEvent(c, { prompt: 10 + i, completion: 5 })));
    await Promise.all(events.map((e) => sink.publish(e)));
    for (const [i, c] of charges.entries()) {
      expect((await reservationOf(c.reservationId)).status).toBe(i % 2 ? 'RELEASED' : 'SETTLED');
    }
    const [{ n }] = await db().query<{ n: string }>('SELECT count(*) AS n FROM ai_usage_ledger WHERE user_id = ANY($1)', [users]);
    expect(Number(n)).toBe(events.length);
  });

  it('queues the event for ledger-consumer when PostgreSQL cannot be reached here; applied from there, once', async () => {
    const unreachable = new Pool({ connectionString: `postgresql://127.0.0.1:${await freePort()}/nowhere`, connectionTimeoutMillis: 500 });
    const { sink, counted } = settlement(unreachable);
    const userId = await insertUser(db().query);
    const charged = await reserve(db().sql, userId, 500, new Date());
    const event = completedEvent(charged, { prompt: 7, completion: 3 });
    await sink.publish(event);
    await unreachable.end();
    expect(await counted('applied')).toBe(0);
    const job = await queue.getJob(event.eventId);
    expect(job?.data).toEqual(event);
    expect(await entriesOf(userId)).toEqual([]);
    // What ledger-consumer does with it, twice (a redelivery): one entry.
    expect(await applyUsageEvent(db().sql, job!.data)).toBe('applied');
    expect(await applyUsageEvent(db().sql, job!.data)).toBe('duplicate');
    expect(await entriesOf(userId)).toEqual([{ kind: 'completed', total_tokens: 10 }]);
  });
});
