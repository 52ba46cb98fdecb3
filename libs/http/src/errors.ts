import { AppError, httpStatusOf, type ErrorBody } from '@qv/contracts';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';

/** 404 for any route nobody answered. */
export function notFoundHandler(): RequestHandler {
  return (_req, _res, next) => next(new AppError('NOT_FOUND', 'No such route'));
}

/** The refusals of a body that cannot be read, whichever transport read it (Express's body-parser or direct-routes.ts). */
export const bodyTooLarge = (): AppError => new AppError('PAYLOAD_TOO_LARGE', 'The request body is too large');
export const bodyNotJson = (): AppError => new AppError('VALIDATION_FAILED', 'The request body is not valid JSON');
export const bodyUnreadable = (): AppError => new AppError('VALIDATION_FAILED', 'The request body could not be read');

/** What a failed request is answered: its status, the headers the error adds, and the body. */
export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: ErrorBody;
}

/**
 * The one mapping of errors to answers: AppError → its status and body; body-parser's errors →
 * 400/413; anything else → 500 with a generic message (an unknown error's message is never echoed).
 * A 5xx is logged here, with the original error.
 */
export function errorAnswer(err: unknown, logger: Logger, request: { requestId?: string; path: string }): ErrorAnswer {
  const appError = toAppError(err);
  const status = httpStatusOf(appError.code);
  if (status >= 500) logger.error({ err, requestId: request.requestId, path: request.path }, 'request failed');
  const headers: Record<string, string> = appError.retryAfterSeconds !== undefined ? { 'Retry-After': String(appError.retryAfterSeconds) } : {};
  return { status, headers, body: appError.toBody() };
}

/** The one error middleware of every Express app (see `errorAnswer`). */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const answer = errorAnswer(err, logger, { requestId: res.locals.requestId as string | undefined, path: req.path });
    res.set(answer.headers);
    res.status(answer.status).json(answer.body);
  };
}

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { type?: string; status?: number; message?: string };
  if (e?.type === 'entity.too.large') return bodyTooLarge();
  if (e?.type === 'entity.parse.failed') return bodyNotJson();
  if (e?.status === 400 || e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
    return bodyUnreadable();
  }
  return new AppError('INTERNAL', 'Internal error', { cause: err });
}
