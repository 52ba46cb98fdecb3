import { cacheDurabilityEnv, ledgerApplyEnv, cacheClientEnv, commonEnv, dbPoolEnv, parseConfig, port, portEnv, positiveInt, serviceTokensEnv, url } from '@qv/config';
import { breakerEnv, llmEnv } from '@qv/llm';
import { z } from 'zod';

export const configSchema = z.object({
  ...commonEnv,
  ...portEnv(3000),
  OPS_PORT: port(9464).describe('the operations port: `/metrics` (the scraper\'s credential), `/healthz`, `/readyz`; `/metrics` is `404` on `PORT`'),
  ADMIN_API_KEY: z
    .string()
    .min(16)
    .optional()
    .describe('the first admin\'s key, seeded at start (`npm start` generates one, saved in `.run/dev-keys.json`); unset, admins come only from the database'),
  QUOTA_SERVICE_URL: url('http://127.0.0.1:3001').describe('base URL of quota-service'),
  QUOTA_CHARGE_BATCH_MAX: z.coerce.number().int().min(1).max(64).default(64).describe('most charges that arrive together sent to quota-service as one statement and one commit (`POST /internal/charges/batch`, each user at most once); `1` sends each alone'),
  QUOTA_CHARGE_BATCHES_IN_FLIGHT: positiveInt(4).describe('batches (or lone charges) on their way to quota-service at once per replica; what arrives meanwhile gathers into the next batch'),
  ...ledgerApplyEnv(),
  QUOTA_TIMEOUT_MS: positiveInt(2000).describe('deadline of a charge; past it the item is refused `503 QUOTA_SERVICE_UNAVAILABLE` (fail closed), nothing stored'),
  /** A short deadline: the chat path's answer must not wait on a slow cache. */
  ...cacheClientEnv({ timeoutMs: 1000 }),
  ...cacheDurabilityEnv,
  ...serviceTokensEnv('SERVICE_TOKEN_API', 'SERVICE_TOKEN_METRICS'),
  // 100,000 characters of content take up to 600 kB as JSON when every one is \u-escaped (as
  // Python's json.dumps writes any non-ASCII text by default), ~400 kB as UTF-8.
  BODY_LIMIT: z.string().default('1mb').describe('largest JSON body; larger: `413 PAYLOAD_TOO_LARGE`'),
  ENQUEUE_TIMEOUT_MS: positiveInt(1000).describe('the request path\'s wait for Redis before leaving the job to the outbox relay'),
  OUTBOX_RELAY_INTERVAL_MS: positiveInt(1000).describe('tick of the outbox relay, which enqueues the jobs the request path could not'),
  OUTBOX_RELAY_GRACE_MS: positiveInt(2000).describe('age at which an unsent outbox row becomes the relay\'s (younger, it is still the request path\'s to send)'),
  IDEMPOTENCY_TTL_HOURS: positiveInt(24).describe('how long Idempotency-Keys are kept'),
  IDEMPOTENCY_LOCK_SECONDS: positiveInt(30).describe('after this an in-progress Idempotency-Key of a crashed request is resumed'),
  ...dbPoolEnv(20),
  OUTBOX_RETENTION_HOURS: positiveInt(24).describe('sent outbox rows are deleted after this by the housekeeping job'),
  HOUSEKEEPING_INTERVAL_MS: positiveInt(60_000).describe('period of the housekeeping job, which deletes sent outbox rows and expired Idempotency-Keys'),
  AUTH_CACHE_TTL_MS: positiveInt(5000).describe(
    'how long a resolved API key is trusted without a look-up. A revocation is refused at once by the replica that made it and, over Redis pub/sub (`<REDIS_PREFIX>:auth:evictions`), by the others within milliseconds; this is the bound when that message is lost (Redis down)',
  ),
  AUTH_NEGATIVE_CACHE_TTL_MS: positiveInt(5000).describe(
    'how long an unknown API key is remembered as unknown (a flood of one wrong key reaches PostgreSQL once per replica per TTL); a key issued through the admin API is evicted from it everywhere at once',
  ),
  AUTH_FAILURE_LIMIT: positiveInt(20).describe(
    'failed authentications (wrong or revoked key) per client address (IPv6: per /64) in `AUTH_FAILURE_WINDOW_MS`, counted in Redis over all replicas; the next is `429 AUTH_RATE_LIMITED` with `Retry-After` until the window ends. Behind a proxy every client shares its address (trust proxy is off)',
  ),
  AUTH_FAILURE_WINDOW_MS: positiveInt(60_000).describe('the window of `AUTH_FAILURE_LIMIT`, from the client\'s first failure; `Retry-After` is what is left of it'),
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform(corsOrigins)
    .describe(
      'comma-separated exact origins (`https://app.example.com`) whose pages may call the API: preflights answered `204` before authentication, the origin echoed, the quota headers, `Retry-After`, `Idempotent-Replayed` and `X-Request-Id` exposed; unset: no CORS headers at all',
    ),
  CORS_MAX_AGE_SECONDS: positiveInt(600).describe('`Access-Control-Max-Age` of a preflight: how long a browser may reuse its answer'),
  ACCEPT_ADMISSION_ACTIVE: positiveInt(8).describe('`POST /v1/items` of one user handled at once by each replica; the rest wait in that user\'s line (as quota-service\'s `CHARGE_ADMISSION_*` for charges)'),
  ACCEPT_ADMISSION_QUEUE: positiveInt(256).describe('requests of one user allowed to wait in that line; one more is `429 USER_REQUEST_RATE_EXCEEDED` at once'),
  ACCEPT_ADMISSION_WAIT_MS: positiveInt(1500).describe('longest wait in that line before `429 USER_REQUEST_RATE_EXCEEDED`'),
  QUOTA_REFUSAL_MEMO_MS: z.coerce.number().int().min(0).default(1000).describe(
    'how long a replica answers a user\'s `POST /v1/items` with their last `DAILY_QUOTA_EXCEEDED` / `HOURLY_RATE_LIMIT_EXCEEDED` without charging (never past its Retry-After; an operator\'s change of the user forgets it); `0` asks quota-service every time',
  ),
  CHAT_STREAM_BUFFER_BYTES: positiveInt(1_048_576).describe(
    'how far a streaming chat client may fall behind (bytes written and not yet read) before it is disconnected; the provider\'s stream is read to its end and settled all the same. Without it a slow reader left the whole answer in api-service\'s memory',
  ),
  CHAT_IMAGE_PART_TOKENS: positiveInt(1445).describe(
    'what the chat path\'s prompt estimate counts for one image part, whatever its size: the most the provider may bill for it (gpt-4o\'s largest image at high detail: 85 + 8 × 170). Raise it for a model that bills images as more tokens, or an image can settle past the budget the charge checked',
  ),
  /** The upstream of the OpenAI-compatible POST /v1/chat/completions path. */
  ...llmEnv,
  ...breakerEnv,
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
