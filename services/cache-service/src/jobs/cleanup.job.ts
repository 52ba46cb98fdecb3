import type { Logger } from '@qv/telemetry';
import { withSpan } from '@qv/telemetry';

/**
 * Runs `cleanup` every `intervalMs`, never two at once in this process. Replicas may run it at the
 * same time: deleting expired rows is idempotent, so no lock is needed. Answers a stop function.
 */
export function scheduleCleanup(cleanup: () => Promise<number>, intervalMs: number, logger: Logger): () => Promise<void> {
  let running: Promise<void> | null = null;
  const tick = () => {
    if (running) return;
    running = withSpan('Cache.cleanup', async () => {
      const deleted = await cleanup();
      if (deleted > 0) logger.info({ deleted }, 'expired cache rows deleted');
    })
      .catch((err) => logger.warn({ err }, 'cache cleanup failed; next run retries'))
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
