import type { Job, JobsOptions, Queue } from 'bullmq';
import { ownTraceContexts } from './telemetry';

/**
 * Fairness between users in one queue (DESIGN.md §5): a job's BullMQ priority is 1 + the number of
 * its user's jobs already in the queue and not yet finished, fixed when it is enqueued. A user's
 * k-th queued job therefore waits behind every other user's first k − 1 ones and no more: one
 * user's burst of 30 does not keep another user's single item waiting behind all of it (that item
 * gets priority 1 and goes next, after the jobs already running), and among equal priorities BullMQ
 * keeps arrival order. A user's queued jobs are bounded by their plan's concurrency, so priorities
 * stay small (and are capped at BullMQ's largest, for a user whose concurrency is unlimited).
 *
 * Each user's unfinished jobs are a sorted set in Redis under the queue's own keys
 * (`<prefix>:<queue>:fair:<userId>`: no job id can be `fair:<x>`, BullMQ refuses ids of two `:`-parts),
 * scored by enqueue time. Adding is idempotent (a second enqueue of the same job id, by the outbox
 * relay, gets the same rank); a finished job leaves it (`releaseFairShare`, called by the worker
 * on completion and on dead-lettering). An entry whose release was lost (a worker killed between
 * finishing a job and releasing it) only overstates its user's share, and leaves the set after
 * FAIR_SHARE_HORIZON_MS; an idle user's set expires as a whole after the same time. Either way
 * the cost of a lost release is a slightly later place in line for that user, never a lost job.
 */
export const FAIR_SHARE_HORIZON_MS = 15 * 60_000;

/** BullMQ's largest priority (lower is sooner; 0 means none, and unprioritized jobs go before every prioritized one). */
export const MAX_PRIORITY = 2 ** 21 - 1;

/**
 * How far back in line each failed attempt puts a job: its retry waits behind the first turns of
 * other users' jobs (up to this many queued per user), so a user's failing items spend their own
 * attempts without taking turns from other users' items that have not had one yet.
 */
export const RETRY_PRIORITY_STEP = 10;

/** The priority of a job's next attempt after a failed one: RETRY_PRIORITY_STEP further back. */
export function retryPriority(priority: number | undefined): number {
  return Math.min(MAX_PRIORITY, Math.max(1, priority ?? 1) + RETRY_PRIORITY_STEP);
}

/** A job of a user, to be enqueued with its fair priority. */
export interface FairJob<T extends { userId: string } = { userId: string }> {
  name: string;
  data: T;
  opts: JobsOptions & { jobId: string };
}

// KEYS[1]: the base of the users' sets (`<base>:<userId>`); ARGV[1] now (ms), ARGV[2] horizon (ms),
// then a (userId, jobId) pair per job. Returns, per job, how many of its user's jobs were queued
// before it (its rank by enqueue time). The keys are built in the script, as BullMQ's own scripts
// build theirs from the queue's prefix (a Redis Cluster needs a hash tag in it, as for BullMQ).
const RANK_SCRIPT = `
local now = tonumber(ARGV[1])
local horizon = tonumber(ARGV[2])
local ranks = {}
for i = 3, #ARGV, 2 do
  local key = KEYS[1] .. ':' .. ARGV[i]
  local id = ARGV[i + 1]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - horizon)
  local rank = redis.call('ZRANK', key, id)
  if not rank then
    rank = redis.call('ZCARD', key)
    redis.call('ZADD', key, now, id)
  end
  redis.call('PEXPIRE', key, horizon)
  ranks[#ranks + 1] = rank
end
return ranks
`;
// KEYS[i]: a user's set; ARGV[i]: a job id of that user. Any number of pairs.
const RELEASE_SCRIPT = `
for i = 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[i]) end
return #KEYS
`;

const RANK = 'qvFairShareRank';
const RELEASE = 'qvFairShareRelease';
type Client = Awaited<ReturnType<Queue['getBackend']>['client']>;
const prepared = new WeakSet<object>();

/** The queue's Redis connection, with the two scripts defined on it once (EVALSHA afterwards). */
async function clientOf(queue: Queue): Promise<Client> {
  const client = await queue.getBackend().client;
  if (!prepared.has(client)) {
    client.defineCommand(RANK, { numberOfKeys: 1, lua: RANK_SCRIPT });
    // No numberOfKeys: ioredis then takes each call's first argument as its number of keys (BullMQ's type wants one).
    client.defineCommand(RELEASE, { lua: RELEASE_SCRIPT } as { numberOfKeys: number; lua: string });
    prepared.add(client);
  }
  return client;
}

/** The sorted set of `userId`'s unfinished jobs in `queue`. */
export function fairShareKey(queue: Queue, userId: string): string {
  return queue.toKey(`fair:${userId}`);
}

/** Each job's priority: 1 + the number of its user's jobs queued before it (one round trip for the lot). */
export async function fairPriorities(queue: Queue, jobs: readonly FairJob[], now = Date.now()): Promise<number[]> {
  if (jobs.length === 0) return [];
  const client = await clientOf(queue);
  const ranks: unknown[] = await client.runCommand(RANK, [queue.toKey('fair'), now, FAIR_SHARE_HORIZON_MS, ...jobs.flatMap((job) => [job.data.userId, job.opts.jobId])]);
  return ranks.map((rank) => Math.min(MAX_PRIORITY, 1 + Number(rank)));
}

/**
 * Enqueues jobs of users, each with its fair priority, in one `addBulk` (after one round trip for
 * the priorities). Re-adding an enqueued job id stays a no-op, with the same rank.
 */
export async function addFairly<T extends { userId: string }>(queue: Queue, jobs: readonly FairJob<T>[]): Promise<Job[]> {
  const priorities = await fairPriorities(queue, jobs);
  return queue.addBulk(jobs.map((job, i) => ({ name: job.name, data: job.data, opts: { ...ownTraceContexts(queue, job.opts), priority: priorities[i] } })));
}

interface PendingReleases {
  releases: { key: string; jobId: string; resolve: () => void; reject: (err: unknown) => void }[];
  scheduled: boolean;
}
const pendingReleases = new WeakMap<Queue, PendingReleases>();

/**
 * The job left the queue (completed, or dead-lettered): it no longer counts toward its user's share.
 * Idempotent. The releases of one event-loop turn go to Redis as one script call (a worker's jobs
 * of one batch end together); each caller waits for its own.
 */
export function releaseFairShare(queue: Queue, userId: string, jobId: string): Promise<void> {
  let pending = pendingReleases.get(queue);
  if (!pending) {
    pending = { releases: [], scheduled: false };
    pendingReleases.set(queue, pending);
  }
  const batch = pending;
  return new Promise((resolve, reject) => {
    batch.releases.push({ key: fairShareKey(queue, userId), jobId, resolve, reject });
    if (batch.scheduled) return;
    batch.scheduled = true;
    setImmediate(() => {
      batch.scheduled = false;
      const releases = batch.releases.splice(0);
      clientOf(queue)
        .then((client) => client.runCommand(RELEASE, [releases.length, ...releases.map((r) => r.key), ...releases.map((r) => r.jobId)]))
        .then(
          () => releases.forEach((r) => r.resolve()),
          (err: unknown) => releases.forEach((r) => r.reject(err)),
        );
    });
  });
}
