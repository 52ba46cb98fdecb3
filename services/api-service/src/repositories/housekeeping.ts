import type { PrismaClient } from '@qv/db';
import { startPeriodicTask } from '@qv/telemetry';
import type { Logger } from 'pino';

export interface HousekeepingOptions {
  /** Sent outbox rows older than this are deleted (their job ran long ago or is in the DLQ). */
  outboxRetentionHours: number;
  /** Rows deleted per statement, so a large backlog never holds long locks. */
  batch?: number;
}

/**
 * Deletes what api-service's tables no longer need: Idempotency-Keys past their expiry (kept at
 * least IDEMPOTENCY_TTL_HOURS) and outbox rows sent long ago. Safe on every replica at once.
 */
export async function runHousekeeping(prisma: PrismaClient, options: HousekeepingOptions): Promise<{ idempotencyKeys: number; outboxRows: number }> {
  const batch = options.batch ?? 1000;
  const idempotencyKeys = await prisma.$executeRaw`
    DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT ${batch})`;
  const outboxRows = await prisma.$executeRaw`
    DELETE FROM outbox WHERE id IN (
      SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < now() - make_interval(hours => ${options.outboxRetentionHours}) LIMIT ${batch})`;
  return { idempotencyKeys, outboxRows };
}

/** Runs housekeeping every `intervalMs`; returns a stop function. */
export function startHousekeeping(prisma: PrismaClient, options: HousekeepingOptions & { intervalMs: number; logger: Logger }): () => Promise<void> {
  const task = startPeriodicTask({
    name: 'Api.housekeeping',
    intervalMs: options.intervalMs,
    logger: options.logger,
    run: async () => {
      const deleted = await runHousekeeping(prisma, options);
      if (deleted.idempotencyKeys || deleted.outboxRows) options.logger.info(deleted, 'housekeeping');
    },
  });
  return () => task.stop();
}
