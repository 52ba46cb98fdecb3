import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';

/** OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`. */
export function sendOpenAiError(
  res: Response,
  status: number,
  message: string,
  type: string,
  options: { code?: string | null; param?: string | null; retryAfterSeconds?: number } = {},
): void {
  if (options.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(options.retryAfterSeconds));
  res.status(status).json({ error: { message, type, param: options.param ?? null, code: options.code ?? null } });
}

/** The simulator speaks OpenAI's error shape, not the house one, so SDKs read its errors as OpenAI's. */
export function openAiErrorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    const e = err as { type?: string; status?: number };
    if (e?.type === 'entity.too.large') return sendOpenAiError(res, 413, 'The request body is too large', 'invalid_request_error');
    if (e?.type === 'entity.parse.failed' || e?.status === 400) {
      return sendOpenAiError(res, 400, 'The request body is not valid JSON', 'invalid_request_error');
    }
    logger.error({ err }, 'request failed');
    sendOpenAiError(res, 500, 'Internal error', 'server_error');
  };
}
