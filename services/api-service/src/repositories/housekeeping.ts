import type { SqlPort } from '@qv/db/sql';
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
 * Each run reads what it deletes, not the tables: the old rows are found by an index (expires_at;
 * created_at, which a row sent before the cutoff was created before too) and deleted by ctid
 * (`= ANY(ARRAY(…))` is what gives a TID scan; `IN (…)` joined against a scan of the whole table).
 */
export async function runHousekeeping(db: SqlPort, options: HousekeepingOptions): Promise<{ idempotencyKeys: number; outboxRows: number }> {
  const batch = options.batch ?? 1000;
  const deleted = await db.query<{ idempotency_keys: number; outbox_rows: number }>(
    `WITH k AS (
       DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT $1)) RETURNING 1
     ), o AS (
       DELETE FROM outbox WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM outbox
          WHERE created_at < now() - make_interval(hours => $2) AND sent_at IS NOT NULL AND sent_at < now() - make_interval(hours => $2)
          LIMIT $1)) RETURNING 1
     )
     SELECT (SELECT count(*) FROM k)::int AS idempotency_keys, (SELECT count(*) FROM o)::int AS outbox_rows`,
    [batch, options.outboxRetentionHours],
  );
  return { idempotencyKeys: deleted.rows[0].idempotency_keys, outboxRows: deleted.rows[0].outbox_rows };
}

/** Runs housekeeping every `intervalMs`; returns a stop function. */
export function startHousekeeping(db: SqlPort, options: HousekeepingOptions & { intervalMs: number; logger: Logger }): () => Promise<void> {
  const task = startPeriodicTask({
    name: 'Api.housekeeping',
    intervalMs: options.intervalMs,
    logger: options.logger,
    run: async () => {
      const deleted = await runHousekeeping(db, options);
      if (deleted.idempotencyKeys || deleted.outboxRows) options.logger.info(deleted, 'housekeeping');
    },
  });
  return () => task.stop();
}
