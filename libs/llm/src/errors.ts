/** Why an LLM call failed; the retry policy reads `retryable`, dashboards read `kind`. */
export type LlmErrorKind = 'rate_limited' | 'server' | 'timeout' | 'network' | 'client' | 'invalid_response';

const RETRYABLE: Record<LlmErrorKind, boolean> = {
  rate_limited: true,
  server: true,
  timeout: true,
  network: true,
  client: false,
  invalid_response: true,
};

export interface LlmErrorOptions {
  status?: number;
  retryAfterMs?: number;
  /** Overrides the kind's default retryability. */
  retryable?: boolean;
  cause?: unknown;
}

/**
 * The one error every provider throws. `client` (a 4xx other than 408/429: bad request, bad key,
 * unknown model) is the only kind not worth retrying; `retryAfterMs` carries the provider's
 * Retry-After so the queue can slow every worker down, not just this job.
 */
export class LlmError extends Error {
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly retryable: boolean;

  constructor(
    readonly kind: LlmErrorKind,
    message: string,
    options: LlmErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'LlmError';
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.retryable = options.retryable ?? RETRYABLE[kind];
  }
}

/** Response headers as the SDKs (a fetch `Headers`) or a plain record give them. */
export type HeaderSource = Headers | Record<string, string | string[] | undefined> | undefined | null;

function header(headers: HeaderSource, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Milliseconds to wait according to `retry-after-ms` (OpenAI's precise header, preferred) or
 * `Retry-After` (delta seconds or an HTTP date). Undefined when absent or unreadable; a date in
 * the past is 0.
 */
export function parseRetryAfterMs(headers: HeaderSource, now: number = Date.now()): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && ms.trim() !== '') {
    const value = Number(ms);
    if (Number.isFinite(value) && value >= 0) return Math.ceil(value);
  }
  const after = header(headers, 'retry-after')?.trim();
  if (!after) return undefined;
  if (/^\d+(\.\d+)?$/.test(after)) return Math.ceil(Number(after) * 1000);
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Classifies an HTTP error answer: 429 → `rate_limited` (with Retry-After), 408 → `timeout`,
 * 5xx (including Anthropic's 529 overloaded) → `server`, any other 4xx → `client`.
 */
export function llmErrorFromStatus(status: number, headers: HeaderSource, message: string, cause?: unknown, now: number = Date.now()): LlmError {
  if (status === 429) return new LlmError('rate_limited', message, { status, retryAfterMs: parseRetryAfterMs(headers, now), cause });
  if (status === 408) return new LlmError('timeout', message, { status, cause });
  if (status >= 500) return new LlmError('server', message, { status, retryAfterMs: parseRetryAfterMs(headers, now), cause });
  if (status >= 400) return new LlmError('client', message, { status, cause });
  // A non-error status reaching here means the SDK could not read a 2xx/3xx answer.
  return new LlmError('invalid_response', message, { status, cause });
}
