import { EnrichmentJob, JOB_CATALOG, type JobName } from '@qv/contracts';
import { OUTBOX_COLUMNS, type OutboxRow, type SqlPort } from '@qv/db/sql';
import { withTimeout } from '@qv/http';
import { startPeriodicTask } from '@qv/telemetry';
import { addFairly, jobOptions, type FairJob } from '@qv/queue';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';

const SENT_FLUSH_MS = 50;
/**
 * Enqueues begun by `publishSoon` and not yet answered by Redis past which another is left to the
 * relay: a Redis down or hung must not pile every accepted item's job up in this process (the
 * connection queues commands until it is back), only this many.
 */
const MAX_UNANSWERED_ENQUEUES = 5_000;
/** How long enqueues are collected into one `addBulk` (one Redis round trip for the lot). */
const ENQUEUE_BATCH_MS = 2;

interface PendingBatch {
  jobs: FairJob<EnrichmentJob>[];
  done: Promise<unknown>;
}

/**
 * Moves committed outbox rows onto the queue (DESIGN.md §5). The request path publishes its own
 * row right after the commit; the relay picks up any row left unsent (Redis down, a crash between
 * commit and enqueue), and re-sends the job of an unfinished item that Redis no longer has (Redis
 * lost its data: restarted without AOF, failed over). Enqueueing twice is harmless: the job id is
 * the item id (or the replay's id), so BullMQ ignores the second add, and the handler is
 * idempotent. No database lock is held across a Redis call.
 */
export class OutboxPublisher {
  /** Where the next redrive pass starts (item ids); it wraps round to '' at the end. */
  private redriveCursor = '';
  private sentIds: string[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly batches = new Map<Queue, PendingBatch>();
  /** What `publishSoon` started and has not ended: what `drain` waits for. */
  private readonly publishing = new Set<Promise<unknown>>();

  /** Jobs handed to a batch whose `addBulk` Redis has not answered yet. */
  private unanswered = 0;

  constructor(private readonly deps: { db: SqlPort; queues: Record<string, Queue>; logger: Logger; enqueueTimeoutMs: number; maxUnansweredEnqueues?: number }) {}

  /**
   * True when the row is on the queue and marked sent; false leaves it to the relay. `trusted` is
   * the row's payload when the caller built it itself (the accept path), so it is not re-validated.
   */
  async publish(row: OutboxRow, trusted?: EnrichmentJob): Promise<boolean> {
    const queue = this.deps.queues[row.queue];
    if (!queue) throw new Error(`outbox row ${row.id} names unknown queue ${row.queue}`);
    const name = row.jobName as JobName;
    const payload = trusted ?? (JOB_CATALOG[name].schema.parse(row.payload) as EnrichmentJob);
    try {
      await withTimeout(this.enqueue(queue, name, payload, jobOptions(name, row.jobId)), this.deps.enqueueTimeoutMs);
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message, outboxId: row.id }, 'enqueue failed; the outbox relay will retry');
      return false;
    }
    this.markSent(row.id);
    return true;
  }

  /**
   * Publishes the row without its caller waiting. The accept path answers once the row is
   * committed: from then on the item cannot be lost (a row left unsent is the relay's, as when
   * Redis is down), and waiting for the enqueue as well only added its batch window and two Redis
   * round trips to every answer, or ENQUEUE_TIMEOUT_MS to each while Redis was down. While Redis
   * leaves MAX_UNANSWERED_ENQUEUES unanswered, rows are left to the relay without an attempt.
   */
  publishSoon(row: OutboxRow, trusted?: EnrichmentJob): void {
    if (this.unanswered >= (this.deps.maxUnansweredEnqueues ?? MAX_UNANSWERED_ENQUEUES)) return; // the relay's
    const publishing = this.publish(row, trusted).catch((err: unknown) => {
      this.deps.logger.error({ err, outboxId: row.id }, 'outbox row not published; the relay will retry');
    });
    this.publishing.add(publishing);
    void publishing.finally(() => this.publishing.delete(publishing));
  }

  /** Resolves once every `publishSoon` begun has ended and the sent marks are written (shutdown). */
  async drain(): Promise<void> {
    while (this.publishing.size > 0) await Promise.all([...this.publishing]);
    await this.flushSent();
  }

  /**
   * Adds the job with the others enqueued within ENQUEUE_BATCH_MS, in one `addBulk`: one Redis
   * round trip (and one socket write) instead of one per request, after one more for the lot's
   * priorities (`addFairly`: each job ranked by how many of its user's jobs are already queued, so
   * one user's burst does not hold another user's item behind all of it). The batch succeeds or
   * fails as a whole; a failed one leaves every row in it to the relay, and re-adding is a no-op by
   * job id (with the same rank).
   */
  private enqueue(queue: Queue, name: JobName, data: EnrichmentJob, opts: FairJob['opts']): Promise<unknown> {
    let batch = this.batches.get(queue);
    if (!batch) {
      const jobs: PendingBatch['jobs'] = [];
      const done = new Promise((resolve) => setTimeout(resolve, ENQUEUE_BATCH_MS)).then(() => {
        this.batches.delete(queue);
        return addFairly(queue, jobs).finally(() => (this.unanswered -= jobs.length));
      });
      // Each caller observes the outcome through its own withTimeout; this only keeps a batch
      // whose callers all timed out from surfacing as an unhandled rejection.
      done.catch(() => undefined);
      batch = { jobs, done };
      this.batches.set(queue, batch);
    }
    batch.jobs.push({ name, data, opts });
    this.unanswered++;
    return batch.done;
  }

  /**
   * Marks rows sent in batches (one UPDATE per SENT_FLUSH_MS, not one commit per request). A row
   * whose mark is still pending looks unsent to the relay only after OUTBOX_RELAY_GRACE_MS, far
   * longer than a flush; even then a second enqueue is a no-op by job id.
   */
  private markSent(id: string): void {
    this.sentIds.push(id);
    this.flushTimer ??= setTimeout(() => void this.flushSent(), SENT_FLUSH_MS);
  }

  /** Writes the pending sent marks; the relay and shutdown call it too. */
  async flushSent(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const ids = this.sentIds.splice(0);
    if (!ids.length) return;
    try {
      await this.deps.db.query('UPDATE outbox SET sent_at = now() WHERE id = ANY($1::text[]) AND sent_at IS NULL', [ids]);
    } catch (err) {
      // Unmarked rows are re-enqueued by the relay as no-ops; nothing is lost by failing here.
      this.deps.logger.warn({ err: (err as Error).message, rows: ids.length }, 'could not mark outbox rows sent');
    }
  }

  /** Publishes unsent rows older than `graceMs`, oldest first; returns how many went out. */
  async relayOnce(graceMs: number, batch = 100): Promise<number> {
    const { rows } = await this.deps.db.query<OutboxRow>(`SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE sent_at IS NULL AND created_at < $1 ORDER BY created_at LIMIT $2`, [
      new Date(Date.now() - graceMs),
      batch,
    ]);
    let sent = 0;
    for (const row of rows) {
      if (!(await this.publish(row))) break; // Redis still down: try again next tick
      sent++;
    }
    await this.flushSent();
    if (sent) this.deps.logger.info({ sent }, 'outbox relay enqueued unsent rows');
    return sent;
  }

  /**
   * Re-sends the jobs Redis lost. An item still PENDING or ENRICHING whose latest outbox row was
   * sent should have that job in Redis: the worker writes DONE or FAILED to the item before its
   * job completes or leaves the queue, so a job that is gone while its item, read AFTER the check,
   * is still in flight was lost with Redis' data, and is enqueued again from its committed row.
   * Walks the in-flight items `batch` at a time, round-robin, so a large backlog is covered too.
   */
  async redriveOnce(graceMs: number, batch = 100): Promise<number> {
    const { rows: items } = await this.deps.db.query<{ id: string }>(
      `SELECT id FROM items WHERE status IN ('PENDING', 'ENRICHING') AND updated_at < $1 AND id > $2 ORDER BY id LIMIT $3`,
      [new Date(Date.now() - graceMs), this.redriveCursor, batch],
    );
    this.redriveCursor = items.length < batch ? '' : items[items.length - 1].id;
    if (!items.length) return 0;
    const { rows } = await this.deps.db.query<OutboxRow>(`SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE item_id = ANY($1::text[]) ORDER BY created_at DESC`, [items.map((i) => i.id)]);
    const latest = new Map<string, OutboxRow>();
    for (const row of rows) if (!latest.has(row.itemId)) latest.set(row.itemId, row);
    // Unsent rows are relayOnce's; only sent ones can have been lost.
    const sent = [...latest.values()].filter((row) => row.sentAt !== null && this.deps.queues[row.queue]);

    const exists = await withTimeout(
      Promise.all(sent.map(async (row) => (await this.deps.queues[row.queue].getJobState(row.jobId)) !== 'unknown')),
      this.deps.enqueueTimeoutMs,
    ).catch(() => null);
    if (!exists) return 0; // Redis still down: next tick
    const missing = sent.filter((_, i) => !exists[i]);
    if (!missing.length) return 0;
    const stillInFlight = new Set(
      (await this.deps.db.query<{ id: string }>(`SELECT id FROM items WHERE id = ANY($1::text[]) AND status IN ('PENDING', 'ENRICHING')`, [missing.map((r) => r.itemId)])).rows.map((i) => i.id),
    );
    let resent = 0;
    for (const row of missing) {
      if (!stillInFlight.has(row.itemId)) continue;
      if (!(await this.publish(row))) break;
      resent++;
    }
    if (resent) this.deps.logger.warn({ resent }, 'outbox relay re-sent jobs that Redis lost');
    return resent;
  }

  /** Runs the relay every `intervalMs` until the returned stop is called. */
  startRelay(intervalMs: number, graceMs: number): () => Promise<void> {
    const task = startPeriodicTask({
      name: 'Outbox.relay',
      intervalMs,
      logger: this.deps.logger,
      run: async () => {
        await this.relayOnce(graceMs);
        await this.redriveOnce(graceMs);
      },
    });
    return async () => {
      await task.stop();
      await this.flushSent();
    };
  }
}
