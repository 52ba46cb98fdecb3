import { AppError, httpStatusOf, type ErrorBody } from '@qv/contracts';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';

/** 404 for any route nobody answered. */
export function notFoundHandler(): RequestHandler {
  return (_req, _res, next) => next(new AppError('NOT_FOUND', 'No such route'));
}

/**
 * The one error middleware: AppError → its status and body; body-parser's errors → 400/413;
 * anything else → 500 with a generic message (an unknown error's message is never echoed).
 */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const appError = toAppError(err);
    const status = httpStatusOf(appError.code);
    if (status >= 500) logger.error({ err, requestId: res.locals.requestId, path: req.path }, 'request failed');
    if (appError.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(appError.retryAfterSeconds));
    const body: ErrorBody = appError.toBody();
    res.status(status).json(body);
  };
}

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { type?: string; status?: number; message?: string };
  if (e?.type === 'entity.too.large') return new AppError('PAYLOAD_TOO_LARGE', 'The request body is too large');
  if (e?.type === 'entity.parse.failed') return new AppError('VALIDATION_FAILED', 'The request body is not valid JSON');
  if (e?.status === 400 || e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
    return new AppError('VALIDATION_FAILED', 'The request body could not be read');
  }
  return new AppError('INTERNAL', 'Internal error', { cause: err });
}
