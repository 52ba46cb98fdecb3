import { z } from 'zod';

/** Every error code the public API can answer with (DESIGN.md §4). A closed union: add here first. */
export const ErrorCode = z.enum([
  'VALIDATION_FAILED',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'IDEMPOTENCY_KEY_IN_USE',
  'IDEMPOTENCY_KEY_REUSED',
  'PAYLOAD_TOO_LARGE',
  'REQUEST_TIMEOUT',
  'HEADERS_TOO_LARGE',
  'CONCURRENCY_LIMIT_EXCEEDED',
  'HOURLY_RATE_LIMIT_EXCEEDED',
  'DAILY_QUOTA_EXCEEDED',
  'DAILY_TOKEN_QUOTA_EXCEEDED',
  'MONTHLY_TOKEN_QUOTA_EXCEEDED',
  /** One user's requests arrive faster than they can be charged: that user's own 429, never everyone's 503. */
  'USER_REQUEST_RATE_EXCEEDED',
  /** Too many failed authentications from one client: its further attempts wait out the window. */
  'AUTH_RATE_LIMITED',
  'QUOTA_SERVICE_UNAVAILABLE',
  'SERVICE_UNAVAILABLE',
  'CONFLICT',
  'INTERNAL',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** The quota refusals, in the order the charge checks them (DESIGN.md §3). */
export const QuotaErrorCode = z.enum([
  'CONCURRENCY_LIMIT_EXCEEDED',
  'HOURLY_RATE_LIMIT_EXCEEDED',
  'DAILY_QUOTA_EXCEEDED',
  'DAILY_TOKEN_QUOTA_EXCEEDED',
  'MONTHLY_TOKEN_QUOTA_EXCEEDED',
]);
export type QuotaErrorCode = z.infer<typeof QuotaErrorCode>;

/** The one error body every service answers with. */
export const ErrorBody = z.object({
  error: z.object({
    code: ErrorCode,
    message: z.string(),
    details: z.unknown().optional(),
    retryAfterSeconds: z.number().int().nonnegative().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

export interface AppErrorOptions {
  details?: unknown;
  retryAfterSeconds?: number;
  retryable?: boolean;
  cause?: unknown;
  context?: Record<string, unknown>;
}

/**
 * The base of every error the domain raises on purpose. The HTTP layer maps `code` to a status;
 * `message` is safe to show a client, `context` is for logs only.
 */
export class AppError extends Error {
  readonly details?: unknown;
  readonly retryAfterSeconds?: number;
  readonly retryable: boolean;
  readonly context?: Record<string, unknown>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.retryable = options.retryable ?? false;
    this.context = options.context;
  }

  toBody(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
        ...(this.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: this.retryAfterSeconds }),
      },
    };
  }
}

export class ValidationError extends AppError {
  constructor(message: string, issues: unknown) {
    super('VALIDATION_FAILED', message, { details: issues });
  }
}

export class NotFoundError extends AppError {
  constructor(what: string) {
    super('NOT_FOUND', `${what} not found`);
  }
}

/** A charge refused by a limit; `retryAfterSeconds` is the real time until that limit frees. */
export class QuotaExceededError extends AppError {
  constructor(
    code: QuotaErrorCode,
    message: string,
    retryAfterSeconds: number,
    readonly status?: unknown,
  ) {
    super(code, message, { retryAfterSeconds, details: status });
  }
}

/** Maps an error code to its HTTP status; exhaustive, so a new code without a status does not compile. */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'VALIDATION_FAILED':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'NOT_FOUND':
      return 404;
    case 'IDEMPOTENCY_KEY_IN_USE':
    case 'CONFLICT':
      return 409;
    case 'REQUEST_TIMEOUT':
      return 408;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'HEADERS_TOO_LARGE':
      return 431;
    case 'IDEMPOTENCY_KEY_REUSED':
      return 422;
    case 'CONCURRENCY_LIMIT_EXCEEDED':
    case 'HOURLY_RATE_LIMIT_EXCEEDED':
    case 'DAILY_QUOTA_EXCEEDED':
    case 'DAILY_TOKEN_QUOTA_EXCEEDED':
    case 'MONTHLY_TOKEN_QUOTA_EXCEEDED':
    case 'USER_REQUEST_RATE_EXCEEDED':
    case 'AUTH_RATE_LIMITED':
      return 429;
    case 'QUOTA_SERVICE_UNAVAILABLE':
    case 'SERVICE_UNAVAILABLE':
      return 503;
    case 'INTERNAL':
      return 500;
  }
}
