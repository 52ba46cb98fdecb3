import type { SqlPort } from '@qv/db';
import { startPeriodicTask, withSpan } from '@qv/telemetry';
import { expireBatch, findOrphans, pruneCallSlots } from '../repositories/quota.repository';
import { release } from './reservations';

const BATCH = 500;

/**
 * Every RESERVED reservation past its `expires_at` becomes EXPIRED: the slot is freed, the tokens
 * stay charged as estimated (fail closed: the worker may have made the call; a late settle still
 * corrects them). Returns how many expired. Batched so a large backlog never holds many locks.
 */
export function expireStale(db: SqlPort, now: Date): Promise<number> {
  return withSpan('Quota.expireStale', async (span) => {
    let total = 0;
    for (;;) {
      const n = await expireBatch(db, now, BATCH);
      total += n;
      if (n < BATCH) break;
    }
    span.setAttribute('quota.expired', total);
    return total;
  });
}

/**
 * Releases (refunds) RESERVED reservations older than `graceSeconds` whose item row was never
 * stored: api-service charged, then crashed before its item transaction (DESIGN.md §5); or whose
 * item stayed FAILED since before the charge: a replay charged and never ran (`findOrphans`). The grace
 * must exceed the api-service's longest charge-to-commit time, or a slow create is refunded and
 * then runs unpaid. Each one goes through `release`, so a concurrent settle or release wins cleanly.
 * Returns how many were released.
 */
export function voidOrphans(db: SqlPort, now: Date, graceSeconds: number): Promise<number> {
  return withSpan('Quota.voidOrphans', async (span) => {
    const before = new Date(now.getTime() - graceSeconds * 1000);
    let total = 0;
    for (;;) {
      const ids = await findOrphans(db, before, BATCH);
      for (const id of ids) if ((await release(db, id, now)).changed) total++;
      if (ids.length < BATCH) break;
    }
    span.setAttribute('quota.voided', total);
    return total;
  });
}

/** Call slots older than this have no reader: the rolling hour reads the last hour's. */
const CALL_SLOT_RETENTION_MS = 2 * 60 * 60 * 1000;

/** Deletes the rows of ai_call_slots that no rolling hour reads any more. */
export function pruneCallSlotsBefore(db: SqlPort, now: Date): Promise<number> {
  return withSpan('Quota.pruneCallSlots', async (span) => {
    const before = new Date(now.getTime() - CALL_SLOT_RETENTION_MS);
    let total = 0;
    for (;;) {
      const n = await pruneCallSlots(db, before, BATCH);
      total += n;
      if (n < BATCH) break;
    }
    span.setAttribute('quota.pruned', total);
    return total;
  });
}

export interface SweeperOptions {
  db: SqlPort;
  /** Time between sweeps. */
  intervalMs: number;
  /** See `voidOrphans`. Default 300 s. */
  orphanGraceSeconds?: number;
  /** The clock; default `() => new Date()`. */
  now?: () => Date;
  /** Where failures and non-empty sweeps are reported. */
  logger?: { info: (obj: object, msg: string) => void; error: (obj: object, msg: string) => void };
}

/**
 * Runs `voidOrphans`, `expireStale` and `pruneCallSlotsBefore` every `intervalMs` (orphans first: they deserve a refund,
 * which an expiry would no longer give). Sweeps never overlap; several processes may sweep at once.
 * Returns a function that stops the timer and waits for a sweep in progress.
 */
export function startSweeper(options: SweeperOptions): () => Promise<void> {
  const clock = options.now ?? (() => new Date());
  const grace = options.orphanGraceSeconds ?? 300;
  const logger = options.logger ?? { info: () => undefined, error: () => undefined };
  const task = startPeriodicTask({
    name: 'Quota.sweep',
    intervalMs: options.intervalMs,
    logger,
    run: async () => {
      const now = clock();
      const voided = await voidOrphans(options.db, now, grace);
      const expired = await expireStale(options.db, now);
      const pruned = await pruneCallSlotsBefore(options.db, now);
      if (voided || expired || pruned) logger.info({ voided, expired, pruned }, 'quota sweep');
    },
  });
  return () => task.stop();
}
