import { QUEUE_NAMES, type CreateItemResponse, type DlqJobsResponse } from '@qv/contracts';
import { bullPrefix, createRedis } from '@qv/queue';
import { createUser, eventually, http, presets, simulatorCalls, startStack, testRedisUrl, type Stack } from '@qv/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * A provider 429 with Retry-After slows the whole queue, not just the job that met it (DESIGN.md
 * §5): the job uses no attempt for it and ends DONE, and jobs enqueued meanwhile start only once
 * the Retry-After has passed.
 */
describe('pipeline: provider rate limit', () => {
  let stack: Stack;
  let redis: Redis;
  let queue: Queue;
  const run = Date.now().toString(36);

  beforeAll(async () => {
    stack = await startStack(presets.quickRetries, { serviceEnv: { 'enrichment-worker': { QUEUE_CONCURRENCY: '8' } } });
    redis = createRedis(testRedisUrl());
    queue = new Queue(QUEUE_NAMES.enrichment, { connection: redis, prefix: bullPrefix(stack.redisPrefix) });
  }, 90_000);
  afterAll(async () => {
    await queue?.close();
    redis?.disconnect();
    await stack?.stop();
  });

  it('a 429 with Retry-After delays every job, fails none and uses no attempt', async () => {
    const sim = stack.services['llm-simulator']!.url;
    const user = await createUser(stack.api, stack.adminKey, 'pro_monthly', { concurrentJobs: 100 });
    const post = (content: string) => http<CreateItemResponse>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content, tasks: ['summarize'] } });

    // The provider refuses the first two calls for this content with 429 and Retry-After: 1.
    const marker = `limited-${run}`;
    const limited = await post(`A rate-limited provider. ${marker} [sim:fail_first=2] [sim:fail_first_status=429] [sim:retry_after=1]`);
    expect(limited.status).toBe(202);
    const limitedId = limited.body.item.id;
    // The worker met the 429 and held the whole queue back (BullMQ's queue-wide rate limit).
    const { heldUntil } = await eventually(async () => {
      const before = Date.now();
      const ttl = await queue.getRateLimitTtl(1_000_000);
      return ttl > 0 ? { heldUntil: before + ttl } : undefined;
    }, 10_000, 5);

    // Enqueued while the queue is held back.
    const created = await Promise.all([0, 1, 2, 3, 4].map((i) => post(`Queued behind a rate limit, item ${i} of ${run}.`)));
    const others: string[] = [];
    for (const res of created) {
      expect(res.status).toBe(202);
      others.push(res.body.item.id);
    }
    const ids = [limitedId, ...others];
    await eventually(async () => {
      const rows = await stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM items WHERE id = ANY($1) AND status = 'DONE'`, [ids]);
      return rows[0].n === 6;
    }, 20_000);
    expect(await simulatorCalls(sim, marker)).toBe(3);

    const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
    const [limitedJob, ...otherJobs] = jobs;
    // Both refusals were rate limits, not failed attempts: one attempt made, the successful one.
    expect(limitedJob!.attemptsMade).toBe(1);
    expect(limitedJob!.data.rateLimited).toBe(2);
    expect(await limitedJob!.getState()).toBe('completed');
    for (const job of otherJobs) {
      expect(await job!.getState()).toBe('completed');
      expect(job!.attemptsMade).toBe(1);
      // Enqueued while the queue was held, started only after the hold ended.
      expect(job!.timestamp).toBeLessThan(heldUntil);
      expect(job!.processedOn!).toBeGreaterThanOrEqual(heldUntil - 20);
    }
    // Its second call met a second 429, which held the queue another Retry-After.
    expect(limitedJob!.finishedOn!).toBeGreaterThanOrEqual(heldUntil + 950);
    expect((await http<DlqJobsResponse>('GET', `${stack.api}/admin/dlq`, { key: stack.adminKey })).body.jobs).toEqual([]);
    const [failedCount] = await stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ai_usage_ledger WHERE user_id = $1 AND kind = 'failed'`, [user.id]);
    expect(failedCount.n).toBe(0);
  });
});
