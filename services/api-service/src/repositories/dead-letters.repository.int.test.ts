import { QUEUE_NAMES, type DeadLetterJob } from '@qv/contracts';
import { createQueue, createRedis } from '@qv/queue';
import { testRedisPrefix, testRedisUrl } from '@qv/testing';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { DeadLettersRepository } from './dead-letters.repository';

/** The dead-letter queue on the real Redis (a prefix of this file's own), as ops read it. */
let redis: Redis;
let prefix: string;
let dead: Queue;
let enrichment: Queue;

beforeAll(() => {
  redis = createRedis(testRedisUrl());
  prefix = testRedisPrefix();
  dead = createQueue(QUEUE_NAMES.enrichmentDead, redis, prefix);
  enrichment = createQueue(QUEUE_NAMES.enrichment, redis, prefix);
});
afterAll(async () => {
  await dead.obliterate({ force: true });
  await Promise.all([dead.close(), enrichment.close()]);
  redis.disconnect();
});

const letter = (userId: string, n: number): DeadLetterJob => ({
  v: 1,
  job: { v: 1, itemId: `itm_${userId}_${n}`, userId, reservationId: `rsv_${userId}_${n}`, tasks: ['summarize'], charged: true },
  originalJobId: `itm_${userId}_${n}`,
  failedReason: userId === 'usr_b' ? 'provider said 400' : 'provider timed out',
  attemptsMade: 3,
  errors: [],
  failedAt: new Date(Date.UTC(2026, 11, 7, 12, 0, 0, n)).toISOString(),
});

it('finds the letters a filter asks for wherever they sit in the queue, and says when more match than it answers', async () => {
  // User B's three letters first (the oldest), then 1,200 of user A's after them.
  await dead.addBulk([1, 2, 3].map((n) => ({ name: 'dead', data: letter('usr_b', n), opts: { jobId: `dead_b_${n}` } })));
  for (let from = 0; from < 1200; from += 400) {
    await dead.addBulk(Array.from({ length: 400 }, (_, i) => ({ name: 'dead', data: letter('usr_a', from + i), opts: { jobId: `dead_a_${from + i}` } })));
  }
  const letters = new DeadLettersRepository({ deadLetterQueue: dead, enrichmentQueue: enrichment });

  const b = await letters.list({ userId: 'usr_b' });
  expect(b.entries.map((e) => e.jobId).sort()).toEqual(['dead_b_1', 'dead_b_2', 'dead_b_3']);
  expect(b.truncated).toBe(false);
  expect((await letters.list({ error: '400' })).entries).toHaveLength(3);

  const all = await letters.list();
  expect(all.entries).toHaveLength(1000);
  expect(all.truncated).toBe(true);
  expect(new Set(all.entries.map((e) => e.jobId)).size).toBe(1000);

  const a = await letters.list({ userId: 'usr_a' }, 5000);
  expect(a.entries).toHaveLength(1200);
  expect(a.truncated).toBe(false);
  // Exactly the limit matching is not truncated; one more is.
  expect((await letters.list({ userId: 'usr_b' }, 3)).truncated).toBe(false);
  expect((await letters.list({ userId: 'usr_b' }, 2)).truncated).toBe(true);
});
