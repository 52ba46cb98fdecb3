import { ErrorCode, QuotaErrorCode, httpStatusOf } from '@qv/contracts';
import {
  AuthenticationError,
  ConflictError,
  ERROR_CLASSES,
  errorFromResponse,
  ForbiddenError,
  IdempotencyKeyInUseError,
  NotFoundError,
  parseRetryAfter,
  QuotaExceededError,
  QuotaVaultError,
  RateLimitedError,
  ServiceUnavailableError,
  UnexpectedResponseError,
  USER_MESSAGES,
  ValidationError,
} from './errors';

const status = {
  plan: 'free',
  level: 'exceeded',
  quotas: {
    enrichmentsPerDay: { used: 50, limit: 50, remaining: 0, resetAt: '2026-12-02T00:00:00.000Z', level: 'exceeded' },
    concurrentJobs: { used: 0, limit: 3, remaining: 3, resetAt: null, level: 'ok' },
    callsPerHour: { used: 50, limit: 100, remaining: 50, resetAt: null, level: 'ok' },
    tokensPerDay: { used: 0, limit: 100000, remaining: 100000, resetAt: null, level: 'ok' },
    tokensPerMonth: { used: 0, limit: null, remaining: null, resetAt: null, level: 'ok' },
  },
};

const body = (code: string, extra: Record<string, unknown> = {}) => ({ error: { code, message: `m ${code}`, ...extra } });

describe('errorFromResponse', () => {
  it('has a class and a user message for every code of the contract', () => {
    for (const code of ErrorCode.options) {
      const err = errorFromResponse(httpStatusOf(code), body(code), new Headers({ 'x-request-id': 'req-1' }));
      expect(err).toBeInstanceOf(ERROR_CLASSES[code]);
      expect(err).toBeInstanceOf(QuotaVaultError);
      expect(err).toBeInstanceOf(Error);
      expect({ code: err.code, status: err.status, message: err.message, requestId: err.requestId }).toEqual({ code, status: httpStatusOf(code), message: `m ${code}`, requestId: 'req-1' });
      expect(err.userMessage).toBe(USER_MESSAGES[code]);
      expect(err.userMessage.length).toBeGreaterThan(0);
    }
  });

  it('maps the five quota codes to QuotaExceededError with code, retryAfterSeconds and the status from details', () => {
    for (const code of QuotaErrorCode.options) {
      const err = errorFromResponse(429, body(code, { retryAfterSeconds: 42, details: status }), new Headers({ 'retry-after': '42' }));
      expect(err).toBeInstanceOf(QuotaExceededError);
      const quota = err as QuotaExceededError;
      expect(quota.code).toBe(code);
      expect(quota.retryAfterSeconds).toBe(42);
      expect(quota.quotaStatus).toEqual(status);
    }
    const daily = errorFromResponse(429, body('DAILY_QUOTA_EXCEEDED', { retryAfterSeconds: 5, details: status }), new Headers()) as QuotaExceededError;
    expect(daily.userMessage).toBe("You've reached your daily limit.");
    expect(daily.limitName).toBe('enrichmentsPerDay');
    expect(errorFromResponse(429, body('CONCURRENCY_LIMIT_EXCEEDED'), new Headers()).userMessage).toBe('Too many items processing.');
  });

  it('maps the rest to their classes', () => {
    const cases: Array<[string, number, new (...a: never[]) => QuotaVaultError]> = [
      ['VALIDATION_FAILED', 400, ValidationError],
      ['UNAUTHENTICATED', 401, AuthenticationError],
      ['FORBIDDEN', 403, ForbiddenError],
      ['NOT_FOUND', 404, NotFoundError],
      ['CONFLICT', 409, ConflictError],
      ['IDEMPOTENCY_KEY_IN_USE', 409, IdempotencyKeyInUseError],
      ['USER_REQUEST_RATE_EXCEEDED', 429, RateLimitedError],
      ['AUTH_RATE_LIMITED', 429, RateLimitedError],
      ['QUOTA_SERVICE_UNAVAILABLE', 503, ServiceUnavailableError],
      ['SERVICE_UNAVAILABLE', 503, ServiceUnavailableError],
    ];
    for (const [code, s, Class] of cases) expect(errorFromResponse(s, body(code), new Headers())).toBeInstanceOf(Class);
    expect(errorFromResponse(409, body('IDEMPOTENCY_KEY_IN_USE'), new Headers())).toBeInstanceOf(ConflictError);
  });

  it('takes Retry-After from the header when the body has none', () => {
    expect(errorFromResponse(503, body('QUOTA_SERVICE_UNAVAILABLE'), new Headers({ 'retry-after': '2' })).retryAfterSeconds).toBe(2);
    expect(errorFromResponse(503, body('QUOTA_SERVICE_UNAVAILABLE', { retryAfterSeconds: 1 }), new Headers({ 'retry-after': '2' })).retryAfterSeconds).toBe(1);
  });

  it('answers UnexpectedResponseError for a body that is not the API error shape', () => {
    const err = errorFromResponse(502, '<html>Bad gateway</html>', new Headers());
    expect(err).toBeInstanceOf(UnexpectedResponseError);
    expect(err.code).toBe('UNEXPECTED_RESPONSE');
    expect(errorFromResponse(500, body('NOT_A_CODE'), new Headers())).toBeInstanceOf(UnexpectedResponseError);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('7')).toBe(7);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30);
  });
});
