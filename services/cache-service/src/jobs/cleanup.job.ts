import { startPeriodicTask, type Logger } from '@qv/telemetry';

/**
 * Runs `cleanup` every `intervalMs` (libs/telemetry startPeriodicTask: never two at once in this
 * process). Replicas may run it at the same time: deleting expired rows is idempotent, so no lock is
 * needed. Answers a stop function.
 */
export function scheduleCleanup(cleanup: () => Promise<number>, intervalMs: number, logger: Logger): () => Promise<void> {
  const task = startPeriodicTask({
    name: 'Cache.cleanup',
    intervalMs,
    logger,
    run: async () => {
      const deleted = await cleanup();
      if (deleted > 0) logger.info({ deleted }, 'expired cache rows deleted');
    },
  });
  return () => task.stop();
}
