import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { QUEUE_NAMES, type EnrichmentJob } from '@qv/contracts';
import type { OutboxRow } from '@qv/db';
import { bullPrefix, createQueue, createRedis, type Redis } from '@qv/queue';
import { createLogger } from '@qv/telemetry';
import { createTestDatabase, eventually, testRedisPrefix, testRedisUrl, type TestDatabase } from '@qv/testing';
import { Worker, type Queue } from 'bullmq';
import { Pool } from 'pg';
import { storeItemWithOutbox } from './items.repository';
import { OutboxPublisher } from './outbox.publisher';

/**
 * The outbox relay (OutboxPublisher) on the real PostgreSQL (a database of this file's own) and
 * Redis (a prefix per test): committed rows reach BullMQ once, a relay that died between enqueue
 * and mark adds nothing twice, jobs Redis lost are sent again once their grace has passed, and two
 * relays at once enqueue each job once.
 */

const GRACE_MS = 30_000;
const logger = createLogger('api-service-test', 'silent');

let db: TestDatabase;
let prefix: string;
/** Every Redis connection a test opened, closed after it. */
let connections: Redis[];
let queues: Queue[];
let queue: Queue;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

beforeEach(async () => {
  prefix = testRedisPrefix();
  connections = [];
  queues = [];
  queue = enrichmentQueue();
  await db.query('DELETE FROM outbox');
  await db.query('DELETE FROM items');
});
afterEach(async () => {
  await queue.obliterate({ force: true }).catch(() => undefined);
  await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
  const cleaner = createRedis(testRedisUrl());
  const keys = await cleaner.keys(`${prefix}:*`);
  if (keys.length) await cleaner.del(...keys);
  cleaner.disconnect();
  for (const c of connections) c.disconnect();
});

/** The enrichment queue on a connection of its own, as each api-service replica has. */
function enrichmentQueue(): Queue {
  const connection = createRedis(testRedisUrl());
  connections.push(connection);
  const q = createQueue(QUEUE_NAMES.enrichment, connection, prefix);
  queues.push(q);
  return q;
}

/** A relay as api-service's main builds it (a replica: its own queue connection unless given one). */
function relay(options: { pool?: Pool; queue?: Queue; enqueueTimeoutMs?: number; maxUnansweredEnqueues?: number } = {}): OutboxPublisher {
  return new OutboxPublisher({
    db: options.pool ?? db.sql,
    queues: { [QUEUE_NAMES.enrichment]: options.queue ?? enrichmentQueue() },
    logger,
    enqueueTimeoutMs: options.enqueueTimeoutMs ?? 10_000,
    maxUnansweredEnqueues: options.maxUnansweredEnqueues,
  });
}

interface Accepted {
  row: OutboxRow;
  job: EnrichmentJob;
}

/** An item and its outbox row committed by the accept path, the enqueue after it not (yet) done. */
async function accept(userId: string): Promise<Accepted> {
  const id = `itm_${randomUUID().replace(/-/g, '')}`;
  const job: EnrichmentJob = { v: 1, itemId: id, userId, reservationId: `rsv_${id}`, tasks: ['summarize', 'tag'], charged: true };
  const { outbox } = await storeItemWithOutbox(db.sql, { id, userId, title: null, url: null, content: `content of ${id}`, tasks: job.tasks }, job);
  return { row: outbox!, job };
}

/** Moves rows' creation (and their items' last update) `ms` into the past, as if written then. */
async function age(accepted: Accepted[], ms: number): Promise<void> {
  const ids = accepted.map((a) => a.job.itemId);
  await db.query(`UPDATE outbox SET created_at = created_at - make_interval(secs => $2::double precision / 1000) WHERE item_id = ANY($1::text[])`, [ids, ms]);
  await db.query(`UPDATE items SET updated_at = updated_at - make_interval(secs => $2::double precision / 1000) WHERE id = ANY($1::text[])`, [ids, ms]);
}

async function sentAt(itemId: string): Promise<Date | null> {
  const [row] = await db.query<{ sent_at: Date | null }>('SELECT sent_at FROM outbox WHERE item_id = $1', [itemId]);
  return row.sent_at;
}

/** Every job of the queue in any state, by id. */
async function jobsInQueue() {
  const jobs = await queue.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed', 'waiting-children']);
  return new Map(jobs.map((j) => [j.id!, j]));
}

async function totalJobs(): Promise<number> {
  const counts = await queue.getJobCounts();
  return Object.values(counts).reduce((n, c) => n + c, 0);
}

/** The priorities of a user's jobs, sorted: the fair ranks 1..n when each job was counted once. */
async function prioritiesOf(userId: string): Promise<number[]> {
  return [...(await jobsInQueue()).values()]
    .filter((j) => (j.data as EnrichmentJob).userId === userId)
    .map((j) => j.opts.priority!)
    .sort((a, b) => a - b);
}

describe('outbox relay', () => {
  it('enqueues each committed row older than the grace once, with its payload and job options, and marks it sent', async () => {
    const rows = [...(await Promise.all([1, 2, 3].map(() => accept('usr_a')))), ...(await Promise.all([1, 2].map(() => accept('usr_b'))))];
    await age(rows, 60_000);
    const fresh = await accept('usr_a'); // younger than the grace: the request path may still be publishing it
    const publisher = relay();

    expect(await publisher.relayOnce(GRACE_MS)).toBe(5);

    const jobs = await jobsInQueue();
    expect(jobs.size).toBe(5);
    for (const { row, job } of rows) {
      const queued = jobs.get(job.itemId)!;
      expect(queued).toBeDefined();
      expect([queued.name, queued.data]).toEqual(['enrich', job]);
      expect(row.jobId).toBe(job.itemId);
      expect(queued.opts).toMatchObject({ attempts: 5, backoff: { type: 'jittered', delay: 500 } });
      expect(await sentAt(job.itemId)).toBeInstanceOf(Date);
    }
    expect(await prioritiesOf('usr_a')).toEqual([1, 2, 3]);
    expect(await prioritiesOf('usr_b')).toEqual([1, 2]);
    expect(await sentAt(fresh.job.itemId)).toBeNull();
    expect(jobs.has(fresh.job.itemId)).toBe(false);

    // Nothing left to send: a second pass adds nothing.
    expect(await publisher.relayOnce(GRACE_MS)).toBe(0);
    expect(await totalJobs()).toBe(5);

    // Once past the grace the young row goes too, ranked after its user's three.
    await age([fresh], 60_000);
    expect(await publisher.relayOnce(GRACE_MS)).toBe(1);
    expect(await totalJobs()).toBe(6);
    expect((await jobsInQueue()).get(fresh.job.itemId)!.opts.priority).toBe(4);
    expect(await sentAt(fresh.job.itemId)).toBeInstanceOf(Date);
  });

  it('a publisher that enqueued but died before marking the row: the relay sends it again and BullMQ keeps one job', async () => {
    /** Enqueues through a relay whose sent marks go to a pool ended right after: gone before the mark reached PostgreSQL. */
    const publishThenDie = async (accepted: Accepted) => {
      const dying = new Pool({ connectionString: db.url, max: 1 });
      const doomed = relay({ pool: dying });
      expect(await doomed.publish(accepted.row)).toBe(true);
      await dying.end();
      await doomed.flushSent();
      expect(await sentAt(accepted.job.itemId)).toBeNull();
    };

    // One job ran to completion before the relay looks (BullMQ keeps it for an hour)…
    const finished = await accept('usr_a');
    await publishThenDie(finished);
    const workerConnection = createRedis(testRedisUrl());
    connections.push(workerConnection);
    const handled: string[] = [];
    const worker = new Worker(
      QUEUE_NAMES.enrichment,
      async (j) => {
        handled.push(j.id!);
      },
      { connection: workerConnection, prefix: bullPrefix(prefix) },
    );
    try {
      await eventually(async () => (await queue.getJob(finished.job.itemId))?.isCompleted());
    } finally {
      await worker.close();
    }
    // …the other still waits.
    const waiting = await accept('usr_a');
    await publishThenDie(waiting);
    const waitingTimestamp = (await queue.getJob(waiting.job.itemId))!.timestamp;

    await age([waiting, finished], 60_000);
    expect(await relay().relayOnce(GRACE_MS)).toBe(2);

    expect(await totalJobs()).toBe(2);
    const jobs = await jobsInQueue();
    expect(jobs.get(waiting.job.itemId)!.timestamp).toBe(waitingTimestamp); // the same job, not a second one
    expect(await jobs.get(waiting.job.itemId)!.getState()).toBe('prioritized');
    expect(await jobs.get(finished.job.itemId)!.getState()).toBe('completed'); // not queued to run again
    expect(handled).toEqual([finished.job.itemId]);
    expect(await sentAt(waiting.job.itemId)).toBeInstanceOf(Date);
    expect(await sentAt(finished.job.itemId)).toBeInstanceOf(Date);
  });

  it('an enqueue Redis does not answer leaves the row unsent, and the relay sends it once Redis is back', async () => {
    const accepted = await accept('usr_a');
    // A server that takes the connection and never replies: a hung Redis.
    const silent = createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const hung = createRedis(`redis://127.0.0.1:${(silent.address() as AddressInfo).port}`);
    try {
      const down = relay({ queue: createQueue(QUEUE_NAMES.enrichment, hung, prefix), enqueueTimeoutMs: 300 });

      expect(await down.publish(accepted.row, accepted.job)).toBe(false);
      await down.flushSent();
      expect(await sentAt(accepted.job.itemId)).toBeNull();
      expect(await totalJobs()).toBe(0);
    } finally {
      // Once only: a second disconnect of a closed stream leaves ioredis waiting 2 s for a close that never comes.
      hung.disconnect();
      await new Promise((resolve) => silent.close(resolve));
    }

    await age([accepted], 60_000);
    expect(await relay().relayOnce(GRACE_MS)).toBe(1);
    expect((await jobsInQueue()).get(accepted.job.itemId)!.data).toEqual(accepted.job);
    expect(await sentAt(accepted.job.itemId)).toBeInstanceOf(Date);
  });

  it('publishSoon: the accept path does not wait; drain waits for the enqueues, which land and are marked sent', async () => {
    const rows = await Promise.all([1, 2, 3].map(() => accept('usr_a')));
    const publisher = relay();
    for (const { row, job } of rows) publisher.publishSoon(row, job);
    expect(await totalJobs()).toBe(0); // begun, not yet sent: the batch window has not even passed
    await publisher.drain();
    const jobs = await jobsInQueue();
    for (const { job } of rows) expect(jobs.get(job.itemId)!.data).toEqual(job);
    for (const { job } of rows) expect(await sentAt(job.itemId)).toBeInstanceOf(Date);
  });

  it('publishSoon against a Redis that never answers: at most the bound of jobs waits in the process, the rest is left to the relay at once', async () => {
    const rows = await Promise.all([1, 2, 3, 4, 5].map(() => accept('usr_a')));
    const silent = createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const hung = createRedis(`redis://127.0.0.1:${(silent.address() as AddressInfo).port}`);
    const attempts: string[] = [];
    try {
      const down = relay({ queue: createQueue(QUEUE_NAMES.enrichment, hung, prefix), enqueueTimeoutMs: 300, maxUnansweredEnqueues: 2 });
      const publish = down.publish.bind(down);
      down.publish = (row, trusted) => (attempts.push(row.itemId), publish(row, trusted));
      for (const { row, job } of rows) {
        down.publishSoon(row, job);
        await new Promise((resolve) => setTimeout(resolve, 10)); // past the batch window: each its own addBulk
      }
      await down.drain(); // the attempts end at their deadline; their commands still wait on the connection
      expect(attempts).toEqual(rows.slice(0, 2).map((r) => r.job.itemId));
      for (const { job } of rows) expect(await sentAt(job.itemId)).toBeNull();
    } finally {
      hung.disconnect();
      await new Promise((resolve) => silent.close(resolve));
    }
    await age(rows, 60_000);
    expect(await relay().relayOnce(GRACE_MS)).toBe(5);
    expect((await jobsInQueue()).size).toBe(5);
  });

  it('re-sends the job of an unfinished item that Redis lost once the item is older than the grace, and nothing else', async () => {
    const publisher = relay();
    const lostPending = await accept('usr_a');
    const lostEnriching = await accept('usr_a');
    const lostDone = await accept('usr_b');
    const lostFailed = await accept('usr_b');
    const lostYoung = await accept('usr_c');
    const present = await accept('usr_c');
    const all = [lostPending, lostEnriching, lostDone, lostFailed, lostYoung, present];
    for (const a of all) expect(await publisher.publish(a.row)).toBe(true);
    await publisher.flushSent();
    for (const a of all) expect(await sentAt(a.job.itemId)).toBeInstanceOf(Date);
    const presentTimestamp = (await queue.getJob(present.job.itemId))!.timestamp;

    await db.query(`UPDATE items SET status = 'ENRICHING' WHERE id = $1`, [lostEnriching.job.itemId]);
    await db.query(`UPDATE items SET status = 'DONE' WHERE id = $1`, [lostDone.job.itemId]);
    await db.query(`UPDATE items SET status = 'FAILED' WHERE id = $1`, [lostFailed.job.itemId]);
    for (const a of [lostPending, lostEnriching, lostDone, lostFailed, lostYoung]) await (await queue.getJob(a.job.itemId))!.remove();
    await age([lostPending, lostEnriching, lostDone, lostFailed, present], 60_000);

    expect(await publisher.redriveOnce(GRACE_MS)).toBe(2);

    const jobs = await jobsInQueue();
    expect([...jobs.keys()].sort()).toEqual([lostPending, lostEnriching, present].map((a) => a.job.itemId).sort());
    expect(jobs.get(lostPending.job.itemId)!.data).toEqual(lostPending.job);
    expect(jobs.get(lostEnriching.job.itemId)!.data).toEqual(lostEnriching.job);
    expect(jobs.get(present.job.itemId)!.timestamp).toBe(presentTimestamp);

    // The young item's job is re-sent too once its grace has passed; then there is nothing to do.
    await age([lostYoung], 60_000);
    expect(await publisher.redriveOnce(GRACE_MS)).toBe(1);
    expect((await jobsInQueue()).get(lostYoung.job.itemId)!.data).toEqual(lostYoung.job);
    expect(await publisher.redriveOnce(GRACE_MS)).toBe(0);
    expect(await totalJobs()).toBe(4);
  });

  it('walks a backlog larger than one pass batch by batch, round-robin, until every lost job is back', async () => {
    const publisher = relay();
    const accepted = await Promise.all(Array.from({ length: 7 }, () => accept('usr_a')));
    for (const a of accepted) await publisher.publish(a.row);
    await publisher.flushSent();
    await age(accepted, 60_000);
    // Redis lost everything of this deployment.
    const cleaner = createRedis(testRedisUrl());
    connections.push(cleaner);
    const keys = await cleaner.keys(`${prefix}:*`);
    await cleaner.del(...keys);
    expect(await totalJobs()).toBe(0);

    const resent: number[] = [];
    for (let pass = 0; pass < 4; pass++) resent.push(await publisher.redriveOnce(GRACE_MS, 3));

    expect(resent).toEqual([3, 3, 1, 0]);
    expect([...(await jobsInQueue()).keys()].sort()).toEqual(accepted.map((a) => a.job.itemId).sort());
  });

  it('two relays at once enqueue each row once, each job ranked once, and both leave every row marked', async () => {
    const users = ['usr_a', 'usr_b', 'usr_c', 'usr_d'];
    const accepted: Accepted[] = [];
    for (let i = 0; i < 10; i++) accepted.push(...(await Promise.all(users.map((u) => accept(u)))));
    await age(accepted, 60_000);
    const [a, b] = [relay(), relay()];

    const sent = await Promise.all([a.relayOnce(GRACE_MS), b.relayOnce(GRACE_MS)]);

    expect(sent[0] + sent[1]).toBeGreaterThanOrEqual(40);
    expect(await totalJobs()).toBe(40);
    const jobs = await jobsInQueue();
    for (const { job } of accepted) expect(jobs.get(job.itemId)?.data).toEqual(job);
    for (const user of users) expect(await prioritiesOf(user)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const [{ unsent }] = await db.query<{ unsent: number }>('SELECT count(*)::int AS unsent FROM outbox WHERE sent_at IS NULL');
    expect(unsent).toBe(0);

    // And two re-drives at once after Redis lost the lot re-send each job once.
    const cleaner = createRedis(testRedisUrl());
    connections.push(cleaner);
    await cleaner.del(...(await cleaner.keys(`${prefix}:*`)));
    const resent = await Promise.all([a.redriveOnce(GRACE_MS), b.redriveOnce(GRACE_MS)]);
    expect(resent[0] + resent[1]).toBeGreaterThanOrEqual(40);
    expect(await totalJobs()).toBe(40);
    for (const user of users) expect(await prioritiesOf(user)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('as a running task: relays an unsent row and re-drives a lost job by itself', async () => {
    const publisher = relay();
    const unsent = await accept('usr_a');
    const lost = await accept('usr_b');
    expect(await publisher.publish(lost.row)).toBe(true);
    await publisher.flushSent();
    await (await queue.getJob(lost.job.itemId))!.remove();
    await age([unsent, lost], 60_000);

    const stop = publisher.startRelay(100, GRACE_MS);
    try {
      await eventually(async () => (await queue.getJob(unsent.job.itemId)) && (await queue.getJob(lost.job.itemId)), 30_000);
    } finally {
      await stop();
    }
    expect(await sentAt(unsent.job.itemId)).toBeInstanceOf(Date);
    expect(await totalJobs()).toBe(2);
  });
});
