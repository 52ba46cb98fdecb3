import { commonEnv, parseConfig, port, positiveInt, url } from '@qv/config';
import { z } from 'zod';

export const workerConfigSchema = z.object({
  ...commonEnv,
  /** Health and metrics only; the work comes from the queue. */
  PORT: port(3002),
  CACHE_SERVICE_URL: url('http://127.0.0.1:3003'),
  CACHE_TIMEOUT_MS: positiveInt(2000),
  /** How long a cache miss waits for another worker computing the same key before going alone. */
  CACHE_WAIT_MS: positiveInt(10_000),
  WORKER_CONCURRENCY: positiveInt(8),
  /** First retry delay; later ones double, with jitter (libs/queue jitteredBackoff). */
  RETRY_BASE_DELAY_MS: positiveInt(500),
  /** BullMQ stall detection: a job whose lock is not renewed for this long is stalled. */
  JOB_LOCK_MS: positiveInt(30_000),
  STALLED_INTERVAL_MS: positiveInt(30_000),
  MAX_STALLED_COUNT: z.coerce.number().int().min(0).default(1),
  /** Consecutive provider failures that open the circuit; it half-opens after BREAKER_HALF_OPEN_MS. */
  BREAKER_THRESHOLD: positiveInt(5),
  BREAKER_HALF_OPEN_MS: positiveInt(10_000),
  /** How often failed jobs are checked for ones that never reached the dead-letter queue (stalls, crashes). */
  DEAD_LETTER_SWEEP_MS: positiveInt(5_000),
  DB_POOL_SIZE: positiveInt(10),
});
export type WorkerConfig = z.infer<typeof workerConfigSchema>;

export const loadWorkerConfig = (env: NodeJS.ProcessEnv = process.env): WorkerConfig => parseConfig(workerConfigSchema, env);
