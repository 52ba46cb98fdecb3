import { DeadLetterJob, type DlqEntry, type DlqFilter, type EnrichmentJob } from '@qv/contracts';
import { addFairly, jobOptions } from '@qv/queue';
import type { Job, Queue } from 'bullmq';

/** The states a dead letter sits in (nothing consumes the dead-letter queue). */
const DEAD_STATES = ['waiting', 'prioritized', 'delayed'] as const;
/** Dead letters read from Redis per round trip while looking for those that match. */
const PAGE = 500;

/** The dead letters that match a filter, newest first, at most the limit asked for; `truncated` when more match. */
export interface DlqMatches {
  entries: DlqEntry[];
  truncated: boolean;
}

/** The dead-letter queue as ops see it: list, show, replay, discard (DESIGN.md §5). */
export class DeadLettersRepository {
  constructor(private readonly deps: { deadLetterQueue: Queue; enrichmentQueue: Queue }) {}

  /**
   * The first `limit` dead letters matching `filter`, reading the whole queue a page at a time if
   * need be: a filter on a user or an error must find that user's letters wherever they sit, not
   * only among the newest `limit` (a replay of one user's letters behind a thousand others'). A
   * letter added or removed while the pages are read may be seen twice (kept once) or, removed by
   * someone else, skipped. (A letter whose data is gone still takes its place in a page: BullMQ's
   * getJobs answers one job per id, so only the end of the list ends the reading.)
   */
  async list(filter: DlqFilter = {}, limit = 1000): Promise<DlqMatches> {
    const entries: DlqEntry[] = [];
    const seen = new Set<string>();
    for (const state of DEAD_STATES) {
      for (let start = 0; ; start += PAGE) {
        const jobs = await this.deps.deadLetterQueue.getJobs([state], start, start + PAGE - 1);
        for (const job of jobs) {
          const entry = toEntry(job);
          if (!entry || seen.has(entry.jobId) || !matches(entry, filter)) continue;
          if (entries.length === limit) return { entries, truncated: true };
          seen.add(entry.jobId);
          entries.push(entry);
        }
        if (jobs.length < PAGE) break;
      }
    }
    return { entries, truncated: false };
  }

  async get(jobId: string): Promise<{ entry: DlqEntry; dead: DeadLetterJob; job: Job } | null> {
    const job = await this.deps.deadLetterQueue.getJob(jobId);
    if (!job) return null;
    const entry = toEntry(job);
    return entry ? { entry, dead: DeadLetterJob.parse(job.data), job } : null;
  }

  /**
   * Re-runs a dead job under a new job id (a replay is new work, not a retry of the old job: its
   * events get ids of their own), then removes it from the dead-letter queue. The caller has
   * committed the replay's outbox row first, so an enqueue that fails here is not lost.
   */
  async requeue(dead: Job, payload: EnrichmentJob, newJobId: string): Promise<void> {
    // Fairly, as every enqueue of the enrichment queue: a replay-all of one user's dead letters takes
    // turns with other users' items instead of jumping them (libs/queue fairness).
    await addFairly(this.deps.enrichmentQueue, [{ name: 'enrich', data: payload, opts: jobOptions('enrich', newJobId) }]);
    await dead.remove();
  }

  async discard(jobId: string): Promise<boolean> {
    const job = await this.deps.deadLetterQueue.getJob(jobId);
    if (!job) return false;
    await job.remove();
    return true;
  }
}

function toEntry(job: Job): DlqEntry | null {
  const parsed = DeadLetterJob.safeParse(job.data);
  if (!parsed.success) return null;
  const d = parsed.data;
  return { jobId: job.id!, itemId: d.job.itemId, userId: d.job.userId, failedReason: d.failedReason, attemptsMade: d.attemptsMade, failedAt: d.failedAt, errors: d.errors };
}

function matches(e: DlqEntry, f: DlqFilter): boolean {
  if (f.userId && e.userId !== f.userId) return false;
  if (f.since && e.failedAt < f.since) return false;
  if (f.until && e.failedAt > f.until) return false;
  if (f.error && !e.failedReason.toLowerCase().includes(f.error.toLowerCase())) return false;
  return true;
}
