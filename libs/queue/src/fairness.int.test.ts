import { testRedisPrefix, testRedisUrl } from '@qv/testing';
import { Queue } from 'bullmq';
import { addFairly, FAIR_SHARE_HORIZON_MS, fairPriorities, fairShareKey, MAX_PRIORITY, releaseFairShare, retryPriority, RETRY_PRIORITY_STEP, type FairJob } from './fairness';
import { bullPrefix, createQueue, jobOptions } from './queues';
import { createRedis, type Redis } from './redis';

describe('fairness between users (real Redis)', () => {
  let redis: Redis;
  let queue: Queue;
  let prefix: string;
  const job = (userId: string, id: string): FairJob => ({ name: 'enrich', data: { userId }, opts: jobOptions('enrich', id) });

  beforeEach(() => {
    redis = createRedis(testRedisUrl());
    prefix = testRedisPrefix();
    queue = createQueue(`fair-${prefix}`, redis, prefix);
  });
  afterEach(async () => {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it("ranks each job by its user's unfinished jobs: a burst gets 1..n, another user's single job 1", async () => {
    const burst = Array.from({ length: 30 }, (_, i) => job('usr_a', `itm_a${String(i).padStart(2, '0')}`));
    // In several batches, as the publisher sends them.
    const priorities = [...(await fairPriorities(queue, burst.slice(0, 7))), ...(await fairPriorities(queue, burst.slice(7)))];
    expect(priorities).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(await fairPriorities(queue, [job('usr_b', 'itm_b0')])).toEqual([1]);
    // Mixed in one batch: each user counted on its own.
    expect(await fairPriorities(queue, [job('usr_b', 'itm_b1'), job('usr_c', 'itm_c0'), job('usr_b', 'itm_b2'), job('usr_a', 'itm_a30')])).toEqual([2, 1, 3, 31]);
  });

  it('is idempotent per job id (the outbox relay re-sends): the same rank, nothing counted twice', async () => {
    expect(await fairPriorities(queue, [job('usr_a', 'itm_1'), job('usr_a', 'itm_2')])).toEqual([1, 2]);
    expect(await fairPriorities(queue, [job('usr_a', 'itm_2'), job('usr_a', 'itm_1')])).toEqual([2, 1]);
    expect(await fairPriorities(queue, [job('usr_a', 'itm_3')])).toEqual([3]);
    expect(await redis.zcard(fairShareKey(queue, 'usr_a'))).toBe(3);
  });

  it("a finished job leaves its user's share, so their next job ranks lower; releasing twice is harmless", async () => {
    await fairPriorities(queue, [job('usr_a', 'itm_1'), job('usr_a', 'itm_2'), job('usr_a', 'itm_3')]);
    await releaseFairShare(queue, 'usr_a', 'itm_1');
    await releaseFairShare(queue, 'usr_a', 'itm_1');
    await releaseFairShare(queue, 'usr_a', 'itm_2');
    expect(await fairPriorities(queue, [job('usr_a', 'itm_4')])).toEqual([2]);
  });

  it('releases of many users at once each leave their own set', async () => {
    const users = Array.from({ length: 20 }, (_, i) => `usr_many_${i}`);
    await fairPriorities(queue, users.flatMap((u) => [job(u, `${u}_itm_1`), job(u, `${u}_itm_2`)]));
    await Promise.all(users.map((u) => releaseFairShare(queue, u, `${u}_itm_1`)));
    for (const u of users) expect(await redis.zrange(fairShareKey(queue, u), '0', '-1')).toEqual([`${u}_itm_2`]);
  });

  it('forgets an entry whose release was lost after the horizon, and an idle user entirely', async () => {
    const now = Date.now();
    await fairPriorities(queue, [job('usr_a', 'itm_lost')], now - FAIR_SHARE_HORIZON_MS - 1);
    expect(await fairPriorities(queue, [job('usr_a', 'itm_next')], now)).toEqual([1]);
    const ttl = await redis.pttl(fairShareKey(queue, 'usr_a'));
    expect(ttl).toBeGreaterThan(FAIR_SHARE_HORIZON_MS - 5000);
    expect(ttl).toBeLessThanOrEqual(FAIR_SHARE_HORIZON_MS);
  });

  it("addFairly enqueues with those priorities, and BullMQ serves a newcomer's job before the rest of a burst", async () => {
    await addFairly(queue, Array.from({ length: 10 }, (_, i) => job('usr_a', `itm_a${i}`)));
    await addFairly(queue, [job('usr_b', 'itm_b0')]);
    // A replay enqueued without addFairly still has a priority (jobOptions), so it cannot jump every prioritized job.
    await queue.add('enrich', { userId: 'usr_c' }, jobOptions('enrich', 'itm_replay'));
    expect((await queue.getJob('itm_b0'))!.opts.priority).toBe(1);
    expect((await queue.getJob('itm_a9'))!.opts.priority).toBe(10);
    expect(await queue.getJobCountByTypes('prioritized')).toBe(12);
    expect(await queue.getJobCountByTypes('wait')).toBe(0);
    // Lowest priority first, arrival order among equals: a0, b0, replay, a1, a2, …
    const order = (await queue.getJobs(['prioritized'], 0, -1, true)).map((j) => j.id);
    expect(order.slice(0, 4)).toEqual(['itm_a0', 'itm_b0', 'itm_replay', 'itm_a1']);
    expect(bullPrefix(prefix)).toBe(queue.opts.prefix);
  });

  it("a retry goes behind other users' first turns (each failed attempt RETRY_PRIORITY_STEP back, capped)", async () => {
    await addFairly(queue, [job('usr_a', 'itm_failing'), ...Array.from({ length: 3 }, (_, i) => job(`usr_${i}`, `itm_fresh${i}`))]);
    const failing = (await queue.getJob('itm_failing'))!;
    await failing.changePriority({ priority: retryPriority(failing.priority) });
    expect((await queue.getJob('itm_failing'))!.priority).toBe(1 + RETRY_PRIORITY_STEP);
    const order = (await queue.getJobs(['prioritized'], 0, -1, true)).map((j) => j.id);
    expect(order).toEqual(['itm_fresh0', 'itm_fresh1', 'itm_fresh2', 'itm_failing']);
    expect(retryPriority(MAX_PRIORITY - 1)).toBe(MAX_PRIORITY);
    expect(retryPriority(undefined)).toBe(1 + RETRY_PRIORITY_STEP);
  });
});
