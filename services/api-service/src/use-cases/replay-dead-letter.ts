import { AppError, JOB_CATALOG, newId, NotFoundError, TaskName, type EnrichmentJob } from '@qv/contracts';
import { ITEM_COLUMNS, type ItemRow, type SqlPort } from '@qv/db/sql';
import { estimateTokensAsync } from '@qv/llm';
import { withSpan } from '@qv/telemetry';
import type { DeadLettersRepository } from '../repositories/dead-letters.repository';
import type { QuotaClient } from '../repositories/quota.client';

export interface ReplayDeps {
  db: SqlPort;
  deadLetters: DeadLettersRepository;
  quota: QuotaClient;
}

/**
 * Replays one dead-lettered job. By default the user is not charged again (ops replaying a fault
 * of ours should not bill the user twice); the tokens still reach the ledger, marked uncharged.
 * With `chargeUser` the replay takes a fresh charge like a new request (and can be refused by it).
 */
export function replayDeadLetter(deps: ReplayDeps, jobId: string, chargeUser: boolean): Promise<{ jobId: string; newJobId: string; charged: boolean }> {
  return withSpan('DeadLetters.replay', async () => {
    const found = await deps.deadLetters.get(jobId);
    if (!found) throw new NotFoundError('Dead-letter job');
    const original = found.dead.job;
    const [item] = (await deps.db.query<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE id = $1`, [original.itemId])).rows;
    if (!item) throw new NotFoundError('Item');
    // Only a FAILED item is replayed: any other state means a replay of it already runs (or ran),
    // and running it again would do — and perhaps bill — the same work twice.
    if (item.status !== 'FAILED') throw alreadyReplayed(item.status);
    let reservationId: string | null = null;
    if (chargeUser) {
      const charge = await deps.quota.charge({
        v: 1,
        userId: original.userId,
        itemId: original.itemId,
        idempotencyKey: `replay:${jobId}:${found.job.timestamp}`,
        estimatedTokens: await estimateTokensAsync({ content: item.content, title: item.title }, original.tasks.map((t) => TaskName.parse(t))),
      });
      reservationId = charge.reservation.id;
    }
    const payload: EnrichmentJob = { v: 1, itemId: original.itemId, userId: original.userId, tasks: original.tasks, reservationId, charged: chargeUser, replayOf: jobId };
    // A replay is new work for the item, so it goes the way every job does (DESIGN.md §5): a
    // committed outbox row first, which the relay sends if the enqueue below does not happen, and
    // which re-sends the replay (not the dead original) if Redis loses it.
    const newJobId = `${original.itemId}_replay_${Date.now()}`;
    // The item's claim and its outbox row in one statement (one transaction): no row when a concurrent replay won the item.
    const [row] = (
      await deps.db.query<{ id: string }>(
        `WITH claimed AS (
           UPDATE items SET status = 'PENDING', error = NULL, updated_at = now() WHERE id = $1 AND status = 'FAILED' RETURNING id)
         INSERT INTO outbox (id, item_id, queue, job_name, job_id, payload)
         SELECT $2, claimed.id, $3, 'enrich', $4, $5::jsonb FROM claimed
         RETURNING id`,
        [original.itemId, newId('obx'), JOB_CATALOG.enrich.queue, newJobId, JSON.stringify(payload)],
      )
    ).rows;
    if (!row) {
      if (reservationId) await deps.quota.release(reservationId, 'replay lost the race for the item');
      throw alreadyReplayed('PENDING');
    }
    await deps.deadLetters.requeue(found.job, payload, newJobId);
    await deps.db.query(`UPDATE outbox SET sent_at = now() WHERE id = $1`, [row.id]);
    return { jobId, newJobId, charged: chargeUser };
  });
}

function alreadyReplayed(status: string): AppError {
  return new AppError('CONFLICT', `The item is ${status}, not FAILED: it was replayed already. Discard this dead letter instead.`);
}
