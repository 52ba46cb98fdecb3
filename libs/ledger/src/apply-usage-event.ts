import { newId, type UsageEvent } from '@qv/contracts';
import { Prisma, type PrismaClient } from '@qv/db';
import { release, settle } from '@qv/quota';
import { withSpan } from '@qv/telemetry';

export type ApplyOutcome = 'applied' | 'duplicate';

/**
 * Applies one usage event exactly once: the ledger entry and the settlement (usage.completed) or
 * the release (usage.failed) commit in ONE transaction, and the entry's unique event id makes a
 * second delivery a no-op — whether it arrives later (found) or at the same time (the unique
 * violation rolls the loser's settlement back with it).
 *
 * An entry is `charged` only when the event was charged and its reservation took the settlement
 * (an uncharged dead-letter replay, or a completion arriving after its reservation was released,
 * is recorded but charges nobody), which is what reconciliation compares against the counters.
 */
export function applyUsageEvent(prisma: PrismaClient, event: UsageEvent, now = new Date()): Promise<ApplyOutcome> {
  return withSpan('Ledger.apply', async () => {
    try {
      return await prisma.$transaction(async (tx) => {
        if (await tx.aiUsageLedger.findUnique({ where: { eventId: event.eventId }, select: { id: true } })) return 'duplicate' as const;
        const reservation = event.reservationId ? await tx.aiUsageReservation.findUnique({ where: { id: event.reservationId } }) : null;
        let charged = false;
        if (event.charged && reservation) {
          if (event.type === 'usage.completed') {
            const change = await settle(tx, reservation.id, event.promptTokens + event.completionTokens, now);
            charged = change.reservation.status === 'SETTLED' && change.reservation.actualTokens === event.promptTokens + event.completionTokens;
          } else {
            await release(tx, reservation.id, now);
          }
        }
        const completed = event.type === 'usage.completed' ? event : null;
        await tx.aiUsageLedger.create({
          data: {
            id: newId('led'),
            eventId: event.eventId,
            userId: event.userId,
            itemId: event.itemId,
            reservationId: event.reservationId,
            kind: completed ? 'completed' : 'failed',
            model: completed?.model ?? null,
            promptTokens: completed?.promptTokens ?? 0,
            completionTokens: completed?.completionTokens ?? 0,
            totalTokens: completed ? completed.promptTokens + completed.completionTokens : 0,
            costUsd: new Prisma.Decimal(completed?.costUsd ?? 0),
            cacheTier: completed?.cache.tier ?? null,
            cacheHit: completed?.cache.hit ?? false,
            tokensSaved: completed?.cache.tokensSaved ?? 0,
            costSavedUsd: new Prisma.Decimal(completed?.cache.costSavedUsd ?? 0),
            charged: completed ? charged : event.charged && reservation !== null,
            idempotencyKey: event.idempotencyKey,
            day: reservation?.day ?? new Date(`${now.toISOString().slice(0, 10)}T00:00:00Z`),
          },
        });
        return 'applied' as const;
      });
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') return 'duplicate';
      throw err;
    }
  });
}
