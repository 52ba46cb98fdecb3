import type { ErrorBody, ErrorCode, QuotaErrorCode, QuotaStatus } from '@qv/contracts';
import type { QuotaSnapshot } from './quota';

/** Every code the API answers with, and the two the client itself raises. */
export type ClientErrorCode = ErrorCode | 'NETWORK_ERROR' | 'UNEXPECTED_RESPONSE';

/** A frontend-friendly sentence per code: short, no internals, safe to show as is. */
export const USER_MESSAGES: Record<ClientErrorCode, string> = {
  VALIDATION_FAILED: 'Some of what you entered is not valid.',
  UNAUTHENTICATED: 'Your API key is missing, unknown or revoked.',
  FORBIDDEN: 'You are not allowed to do that.',
  NOT_FOUND: 'Not found.',
  IDEMPOTENCY_KEY_IN_USE: 'This request is still being processed.',
  IDEMPOTENCY_KEY_REUSED: 'This request was already sent with different content.',
  PAYLOAD_TOO_LARGE: 'That is too large to send.',
  REQUEST_TIMEOUT: 'The request took too long to arrive; try again.',
  HEADERS_TOO_LARGE: 'The request headers are too large.',
  CONCURRENCY_LIMIT_EXCEEDED: 'Too many items processing.',
  HOURLY_RATE_LIMIT_EXCEEDED: "You've reached your hourly limit.",
  DAILY_QUOTA_EXCEEDED: "You've reached your daily limit.",
  DAILY_TOKEN_QUOTA_EXCEEDED: "You've used today's token allowance.",
  MONTHLY_TOKEN_QUOTA_EXCEEDED: "You've used this month's token allowance.",
  USER_REQUEST_RATE_EXCEEDED: 'Too many requests at once; slow down.',
  AUTH_RATE_LIMITED: 'Too many failed sign-in attempts; wait a moment.',
  QUOTA_SERVICE_UNAVAILABLE: 'The service is busy; nothing was charged. Try again shortly.',
  SERVICE_UNAVAILABLE: 'The service is temporarily unavailable.',
  CONFLICT: 'That conflicts with something that already exists.',
  INTERNAL: 'Something went wrong on our side.',
  NETWORK_ERROR: 'Could not reach the service; check your connection.',
  UNEXPECTED_RESPONSE: 'The service answered unexpectedly.',
};

export interface QuotaVaultErrorInit {
  code: ClientErrorCode;
  status: number;
  message: string;
  details?: unknown;
  requestId?: string;
  retryAfterSeconds?: number;
  quota?: QuotaSnapshot;
  cause?: unknown;
}

/** The base of every error the client throws: the API's error body, its status and request id. */
export class QuotaVaultError extends Error {
  readonly code: ClientErrorCode;
  /** The HTTP status; 0 when no answer arrived. */
  readonly status: number;
  readonly details?: unknown;
  /** The `X-Request-Id` of the answer: quote it in a support ticket. */
  readonly requestId?: string;
  /** From the body's `retryAfterSeconds`, else the `Retry-After` header. */
  readonly retryAfterSeconds?: number;
  /** The `X-AI-Quota-*` headers of the answer, when it had them. */
  readonly quota?: QuotaSnapshot;

  constructor(init: QuotaVaultErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = init.code;
    this.status = init.status;
    this.details = init.details;
    this.requestId = init.requestId;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.quota = init.quota;
  }

  /** A sentence for the end user (the `message` is the API's, for developers and logs). */
  get userMessage(): string {
    return USER_MESSAGES[this.code];
  }
}

export class ValidationError extends QuotaVaultError {}
export class AuthenticationError extends QuotaVaultError {}
export class ForbiddenError extends QuotaVaultError {}
export class NotFoundError extends QuotaVaultError {}
export class ConflictError extends QuotaVaultError {}
/** 409: a request with this Idempotency-Key is still in flight; retried by the client with the same key. */
export class IdempotencyKeyInUseError extends ConflictError {}
/** 422: this Idempotency-Key was used with another body. */
export class IdempotencyKeyReusedError extends QuotaVaultError {}
export class PayloadTooLargeError extends QuotaVaultError {}
export class RequestTimeoutError extends QuotaVaultError {}
export class HeadersTooLargeError extends QuotaVaultError {}
/** 429 not caused by a plan limit: USER_REQUEST_RATE_EXCEEDED or AUTH_RATE_LIMITED. */
export class RateLimitedError extends QuotaVaultError {}
export class ServiceUnavailableError extends QuotaVaultError {}
export class InternalServerError extends QuotaVaultError {}
/** No answer: DNS, refused connection, reset, CORS, offline. */
export class NetworkError extends QuotaVaultError {}
/** An answer that is not the API's error body (a proxy's HTML 502, say). */
export class UnexpectedResponseError extends QuotaVaultError {}

/** 429: a plan limit refused the charge. Nothing was stored and the Idempotency-Key is not used up. */
export class QuotaExceededError extends QuotaVaultError {
  declare readonly code: QuotaErrorCode;
  declare readonly retryAfterSeconds: number;
  /** The caller's full quota status at the refusal (the error's `details`). */
  readonly quotaStatus?: QuotaStatus;

  constructor(init: QuotaVaultErrorInit) {
    super(init);
    this.quotaStatus = isQuotaStatus(init.details) ? init.details : undefined;
  }

  /** The limit that refused, in the words of QuotaStatus.quotas. */
  get limitName(): keyof QuotaStatus['quotas'] {
    return LIMIT_OF[this.code];
  }
}

const LIMIT_OF: Record<QuotaErrorCode, keyof QuotaStatus['quotas']> = {
  CONCURRENCY_LIMIT_EXCEEDED: 'concurrentJobs',
  HOURLY_RATE_LIMIT_EXCEEDED: 'callsPerHour',
  DAILY_QUOTA_EXCEEDED: 'enrichmentsPerDay',
  DAILY_TOKEN_QUOTA_EXCEEDED: 'tokensPerDay',
  MONTHLY_TOKEN_QUOTA_EXCEEDED: 'tokensPerMonth',
};

type ErrorClass = new (init: QuotaVaultErrorInit) => QuotaVaultError;

/** One class per code; a code added to the contract without a class here does not compile. */
export const ERROR_CLASSES: Record<ClientErrorCode, ErrorClass> = {
  VALIDATION_FAILED: ValidationError,
  UNAUTHENTICATED: AuthenticationError,
  FORBIDDEN: ForbiddenError,
  NOT_FOUND: NotFoundError,
  IDEMPOTENCY_KEY_IN_USE: IdempotencyKeyInUseError,
  IDEMPOTENCY_KEY_REUSED: IdempotencyKeyReusedError,
  PAYLOAD_TOO_LARGE: PayloadTooLargeError,
  REQUEST_TIMEOUT: RequestTimeoutError,
  HEADERS_TOO_LARGE: HeadersTooLargeError,
  CONCURRENCY_LIMIT_EXCEEDED: QuotaExceededError,
  HOURLY_RATE_LIMIT_EXCEEDED: QuotaExceededError,
  DAILY_QUOTA_EXCEEDED: QuotaExceededError,
  DAILY_TOKEN_QUOTA_EXCEEDED: QuotaExceededError,
  MONTHLY_TOKEN_QUOTA_EXCEEDED: QuotaExceededError,
  USER_REQUEST_RATE_EXCEEDED: RateLimitedError,
  AUTH_RATE_LIMITED: RateLimitedError,
  QUOTA_SERVICE_UNAVAILABLE: ServiceUnavailableError,
  SERVICE_UNAVAILABLE: ServiceUnavailableError,
  CONFLICT: ConflictError,
  INTERNAL: InternalServerError,
  NETWORK_ERROR: NetworkError,
  UNEXPECTED_RESPONSE: UnexpectedResponseError,
};

function isQuotaStatus(value: unknown): value is QuotaStatus {
  return !!value && typeof value === 'object' && 'quotas' in value && typeof (value as { quotas: unknown }).quotas === 'object';
}

function isErrorBody(value: unknown): value is ErrorBody {
  const error = (value as { error?: unknown } | null)?.error as Record<string, unknown> | undefined;
  return !!error && typeof error === 'object' && typeof error.code === 'string' && error.code in ERROR_CLASSES && typeof error.message === 'string';
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The error an answer stands for: its code's class, or UnexpectedResponseError for a body that is not the API's. */
export function errorFromResponse(status: number, body: unknown, headers: { get(name: string): string | null }, quota?: QuotaSnapshot): QuotaVaultError {
  const requestId = headers.get('x-request-id') ?? undefined;
  const headerRetry = parseRetryAfter(headers.get('retry-after'));
  if (!isErrorBody(body)) {
    return new UnexpectedResponseError({ code: 'UNEXPECTED_RESPONSE', status, message: `Unexpected HTTP ${status} answer`, details: body, requestId, retryAfterSeconds: headerRetry, quota });
  }
  const { code, message, details, retryAfterSeconds } = body.error;
  const Class = ERROR_CLASSES[code];
  return new Class({ code, status, message, details, requestId, retryAfterSeconds: retryAfterSeconds ?? headerRetry, quota });
}
