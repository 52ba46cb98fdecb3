import { commonEnv, parseConfig, port, positiveInt, url } from '@qv/config';
import { z } from 'zod';

export const apiConfigSchema = z.object({
  ...commonEnv,
  PORT: port(3000),
  QUOTA_SERVICE_URL: url('http://127.0.0.1:3001'),
  /** Past this the charge is abandoned and the request refused with 503 (fail closed). */
  QUOTA_TIMEOUT_MS: positiveInt(2000),
  CACHE_SERVICE_URL: url('http://127.0.0.1:3003'),
  /** Seeded as the first admin's key; without it, admins come only from the database. */
  ADMIN_API_KEY: z.string().min(16).optional(),
  /** JSON body limit: 100,000 characters of content can take up to ~400 kB of UTF-8. */
  BODY_LIMIT: z.string().default('512kb'),
  /** How long the request path waits for Redis before leaving the enqueue to the outbox relay. */
  ENQUEUE_TIMEOUT_MS: positiveInt(1000),
  OUTBOX_RELAY_INTERVAL_MS: positiveInt(1000),
  /** An unsent outbox row younger than this is still the request path's to send. */
  OUTBOX_RELAY_GRACE_MS: positiveInt(2000),
  IDEMPOTENCY_TTL_HOURS: positiveInt(24),
  /** An in-progress idempotency key older than this belongs to a crashed request and may be resumed. */
  IDEMPOTENCY_LOCK_SECONDS: positiveInt(30),
  DB_POOL_SIZE: positiveInt(20),
  /** Sent outbox rows are deleted after this many hours. */
  OUTBOX_RETENTION_HOURS: positiveInt(24),
  HOUSEKEEPING_INTERVAL_MS: positiveInt(60_000),
  /** How long a resolved API key is trusted without a database look-up (revocations take this long). */
  AUTH_CACHE_TTL_MS: positiveInt(5000),
  /** POST /v1/items of one user handled at once by this replica; the rest wait in that user's line. */
  ACCEPT_ADMISSION_ACTIVE: positiveInt(8),
  /** Requests of one user allowed to wait; one more is 429 USER_REQUEST_RATE_EXCEEDED at once. */
  ACCEPT_ADMISSION_QUEUE: positiveInt(256),
  /** Longest wait in that line before 429 USER_REQUEST_RATE_EXCEEDED. */
  ACCEPT_ADMISSION_WAIT_MS: positiveInt(1500),
});
export type ApiConfig = z.infer<typeof apiConfigSchema>;

export const loadApiConfig = (env: NodeJS.ProcessEnv = process.env): ApiConfig => parseConfig(apiConfigSchema, env);
