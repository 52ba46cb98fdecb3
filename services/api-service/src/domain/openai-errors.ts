import { AppError, httpStatusOf, type ErrorCode } from '@qv/contracts';

/** OpenAI's error body, with our code in `code` so an SDK's error carries it (`err.code`). */
export interface OpenAiErrorBody {
  error: { message: string; type: string; code: ErrorCode; param: string | null; retryAfterSeconds?: number; details?: unknown };
}

/** OpenAI's `type` for a status: the SDKs choose their error class by status, people read `type`. */
function typeOf(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/** The first zod issue's path, as OpenAI names the offending field (`messages.0.role`). */
function paramOf(err: AppError): string | null {
  if (err.code !== 'VALIDATION_FAILED' || !Array.isArray(err.details)) return null;
  const path = (err.details[0] as { path?: unknown[] } | undefined)?.path;
  return Array.isArray(path) && path.length > 0 ? path.join('.') : null;
}

/** What an error body of either chat dialect carries beside its message: Retry-After's seconds, and a validation's zod issues. */
export function chatErrorExtras(err: AppError): { retryAfterSeconds?: number; details?: unknown } {
  return {
    ...(err.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: err.retryAfterSeconds }),
    ...(err.code === 'VALIDATION_FAILED' ? { details: err.details } : {}),
  };
}

/**
 * An error of the chat path in OpenAI's shape (`{error: {message, type, code, param}}`), with the
 * status and Retry-After the house error body would have had. A quota refusal's status goes in the
 * X-AI-Quota-* headers, not in the body: the body stays what an OpenAI client expects.
 */
export function openAiError(err: AppError): { status: number; body: OpenAiErrorBody } {
  const status = httpStatusOf(err.code);
  return {
    status,
    body: {
      error: {
        message: err.message,
        type: typeOf(status),
        code: err.code,
        param: paramOf(err),
        ...chatErrorExtras(err),
      },
    },
  };
}
