import { withSpan } from './tracing';

export interface PeriodicTaskOptions {
  /** The span of each run (for example `Quota.sweep`), and the name in its error log line. */
  name: string;
  intervalMs: number;
  /** One run. Its failure is logged and the next tick runs again; it never stops the task. */
  run: () => Promise<unknown>;
  logger: { error: (obj: object, msg: string) => void };
  /** Run once at start instead of waiting a first interval. Default false. */
  runAtStart?: boolean;
}

export interface PeriodicTask {
  /** No further run starts; resolves once the run in progress, if any, has finished. */
  stop(): Promise<void>;
}

/**
 * Every background loop of the services (sweeper, housekeeping, reconciliation, outbox relay,
 * dead-letter sweep, cache cleanup) runs through this: a tick that finds the previous run still
 * going is skipped (runs never overlap in a process; replicas may run at once, so each task must
 * be safe to run concurrently on several), each run is one span, and stop is awaitable. The timer
 * does not keep the process alive.
 */
export function startPeriodicTask(options: PeriodicTaskOptions): PeriodicTask {
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = withSpan(options.name, async () => {
      await options.run();
    })
      .catch((err: unknown) => options.logger.error({ err, task: options.name }, `${options.name} failed; the next run retries`))
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  if (options.runAtStart) tick();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
