import { AppError, JOB_CATALOG, newId, NotFoundError, TaskName, type EnrichmentJob } from '@qv/contracts';
import type { PrismaClient } from '@qv/db';
import { estimateTokensAsync } from '@qv/llm';
import { withSpan } from '@qv/telemetry';
import type { DeadLettersRepository } from '../repositories/dead-letters.repository';
import type { QuotaClient } from '../repositories/quota.client';

export interface ReplayDeps {
  prisma: PrismaClient;
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
    const item = await deps.prisma.item.findUnique({ where: { id: original.itemId } });
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
    const row = await deps.prisma.$transaction(async (tx) => {
      const claimed = await tx.item.updateMany({ where: { id: original.itemId, status: 'FAILED' }, data: { status: 'PENDING', error: null, updatedAt: new Date() } });
      if (claimed.count === 0) return null; // a concurrent replay won the item
      return tx.outboxMessage.create({ data: { id: newId('obx'), itemId: original.itemId, queue: JOB_CATALOG.enrich.queue, jobName: 'enrich', jobId: newJobId, payload } });
    });
    if (!row) {
      if (reservationId) await deps.quota.release(reservationId, 'replay lost the race for the item');
      throw alreadyReplayed('PENDING');
    }
    await deps.deadLetters.requeue(found.job, payload, newJobId);
    await deps.prisma.outboxMessage.update({ where: { id: row.id }, data: { sentAt: new Date() } });
    return { jobId, newJobId, charged: chargeUser };
  });
}

function alreadyReplayed(status: string): AppError {
  return new AppError('CONFLICT', `The item is ${status}, not FAILED: it was replayed already. Discard this dead letter instead.`);
}
