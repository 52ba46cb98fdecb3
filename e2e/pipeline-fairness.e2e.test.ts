import { QUEUE_NAMES, type CreateItemResponse } from '@qv/contracts';
import { bullPrefix, createRedis } from '@qv/queue';
import { createUser, eventually, http, startStack, testRedisUrl, type Stack } from '@qv/testing';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * Fairness between users in the queue (DESIGN.md §5, issue 12): user A's burst of 30 queued items
 * does not keep user B's single item waiting behind all of it. Each job's priority is 1 + the
 * number of its user's unfinished jobs when it was enqueued, so B's item (priority 1) is the next
 * one a worker takes, after the jobs already running. Before: FIFO, B's item finished 31st.
 */
describe('pipeline: fairness between users in the queue', () => {
  const CONCURRENCY = 2;
  let stack: Stack;
  let redis: Redis;
  let queue: Queue;
  const run = Date.now().toString(36);

  beforeAll(async () => {
    // Two job slots and 600 ms per call: A's burst backs the queue up for about 9 s.
    stack = await startStack({ serviceEnv: { 'enrichment-worker': { QUEUE_CONCURRENCY: String(CONCURRENCY) } } });
    redis = createRedis(testRedisUrl());
    queue = new Queue(QUEUE_NAMES.enrichment, { connection: redis, prefix: bullPrefix(stack.redisPrefix) });
  }, 90_000);
  afterAll(async () => {
    await queue?.close();
    redis?.disconnect();
    await stack?.stop();
  });

  it("B's single item, posted after A's burst of 30, is among the first taken: A's burst ranks 1..30, B's item 1", async () => {
    const a = await createUser(stack.api, stack.adminKey, 'pro_monthly', { concurrentJobs: 30 });
    const b = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const post = async (key: string, content: string) => {
      const res = await http<CreateItemResponse>('POST', `${stack.api}/v1/items`, { key, body: { content, tasks: ['tag'] } });
      expect(res.status).toBe(202);
      return res.body.item.id;
    };

    // The queue is paused while A's burst and B's item are enqueued: how long the posts take on a
    // loaded machine then decides nothing (before, A's first items could finish mid-burst and free
    // their ranks). Enqueueing still works; the workers take nothing until it resumes.
    await queue.pause();
    const burst: string[] = [];
    // In groups of ten: within the per-user admission line of the accept path.
    for (let group = 0; group < 3; group++) {
      burst.push(...(await Promise.all(Array.from({ length: 10 }, (_, i) => post(a.key, `Burst item ${group * 10 + i} of ${run}. [sim:latency_ms=600]`)))));
    }
    const single = await post(b.key, `B's only item of ${run}. [sim:latency_ms=600]`);
    // Every item reached the queue (the outbox relay included) before the workers may start.
    await eventually(async () => (await Promise.all([...burst, single].map((id) => queue.getJob(id)))).every(Boolean), 10_000);
    await queue.resume();

    const jobs = await eventually(async () => {
      const all = await Promise.all([...burst, single].map((id) => queue.getJob(id)));
      return all.every((job) => job?.finishedOn) ? (all as Job[]) : undefined;
    }, 30_000);
    const bJob = jobs[jobs.length - 1];
    const aJobs = jobs.slice(0, -1);
    expect((await stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM items WHERE id = ANY($1) AND status = 'DONE'`, [[...burst, single]]))[0].n).toBe(31);

    // The priorities as enqueued: A's burst ranked 1..30 (A's own arrival order), B's item 1.
    expect(bJob.opts.priority).toBe(1);
    expect(aJobs.map((job) => job.opts.priority).sort((x, y) => x! - y!)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));

    // B's item (priority 1) went among the first: only A's own first item (priority 1 too, and
    // older) may start before it, and at most the jobs taken at the same moment finish before it.
    expect(aJobs.filter((job) => job.processedOn! < bJob.processedOn!).every((job) => job.opts.priority === 1)).toBe(true);
    const aheadOfB = aJobs.filter((job) => job.finishedOn! < bJob.finishedOn!).length;
    expect(aheadOfB).toBeLessThanOrEqual(CONCURRENCY); // first come, first served: after A's 30th
  }, 60_000);
});
