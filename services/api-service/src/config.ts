import { cacheClientEnv, commonEnv, dbPoolEnv, parseConfig, port, positiveInt, serviceToken, url } from '@qv/config';
import { llmEnv } from '@qv/llm';
import { z } from 'zod';

export const configSchema = z.object({
  ...commonEnv,
  /** The provider of the OpenAI-compatible POST /v1/chat/completions path. */
  ...llmEnv,
  PORT: port(3000),
  /** The operations port: /metrics (not on the public PORT, where it is 404), /healthz, /readyz. */
  OPS_PORT: port(9464),
  QUOTA_SERVICE_URL: url('http://127.0.0.1:3001'),
  /** Past this the charge is abandoned and the request refused with 503 (fail closed). */
  QUOTA_TIMEOUT_MS: positiveInt(2000),
  /** A short deadline: the chat path's answer must not wait on a slow cache. */
  ...cacheClientEnv({ timeoutMs: 1000 }),
  /** This service's credential, sent to quota-service and cache-service (SECURITY.md). */
  SERVICE_TOKEN_API: serviceToken(),
  /** The scraper's credential, needed for /metrics on OPS_PORT. */
  SERVICE_TOKEN_METRICS: serviceToken(),
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
  ...dbPoolEnv(20),
  /** Sent outbox rows are deleted after this many hours. */
  OUTBOX_RETENTION_HOURS: positiveInt(24),
  HOUSEKEEPING_INTERVAL_MS: positiveInt(60_000),
  /**
   * How long a resolved API key is trusted without a database look-up. A revocation is evicted at
   * once here and over Redis pub/sub elsewhere; this is the bound on a replica that missed it.
   */
  AUTH_CACHE_TTL_MS: positiveInt(5000),
  /** How long an unknown API key is remembered as unknown (a new key is evicted from it at once). */
  AUTH_NEGATIVE_CACHE_TTL_MS: positiveInt(5000),
  /** Failed authentications one client (IP address, IPv6 /64) may make per window, over all replicas; the next is 429 AUTH_RATE_LIMITED. */
  AUTH_FAILURE_LIMIT: positiveInt(20),
  /** The window of AUTH_FAILURE_LIMIT, from the client's first failure; Retry-After is what is left of it. */
  AUTH_FAILURE_WINDOW_MS: positiveInt(60_000),
  /** Comma-separated exact origins (`https://app.example.com`) allowed by CORS; unset: no CORS headers at all. */
  CORS_ORIGINS: z.string().default('').transform(corsOrigins),
  /** How long a browser may reuse a CORS preflight's answer (Access-Control-Max-Age). */
  CORS_MAX_AGE_SECONDS: positiveInt(600),
  /** POST /v1/items of one user handled at once by this replica; the rest wait in that user's line. */
  ACCEPT_ADMISSION_ACTIVE: positiveInt(8),
  /** Requests of one user allowed to wait; one more is 429 USER_REQUEST_RATE_EXCEEDED at once. */
  ACCEPT_ADMISSION_QUEUE: positiveInt(256),
  /** Longest wait in that line before 429 USER_REQUEST_RATE_EXCEEDED. */
  ACCEPT_ADMISSION_WAIT_MS: positiveInt(1500),
});
export type Config = z.infer<typeof configSchema>;

/** Each origin exactly as a browser sends it: http(s)://host[:port], no path, no trailing slash, no `*`. */
function corsOrigins(value: string, ctx: z.RefinementCtx): string[] {
  const origins: string[] = [];
  for (const raw of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    let origin: string | undefined;
    try {
      const parsed = new URL(raw);
      if (parsed.protocol === 'http:' || parsed.protocol === 'https:') origin = parsed.origin;
    } catch {
      // not a URL
    }
    if (origin === raw) origins.push(origin);
    else ctx.addIssue({ code: 'custom', message: `${JSON.stringify(raw)} is not an exact origin such as https://app.example.com` });
  }
  return origins;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfig(configSchema, env, { requiredInProduction: ['SERVICE_TOKEN_API', 'SERVICE_TOKEN_METRICS'] });
}
