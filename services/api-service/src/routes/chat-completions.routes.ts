import { AppError, ChatCacheTier, ChatCacheTtlHeader, ChatCompletionRequest, IdempotencyKeyHeader, newId, StoredChatCompletion, type QuotaStatus } from '@qv/contracts';
import { parseOr400, writeAnswer } from '@qv/http';
import { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { completionBody, replayEvents } from '../domain/chat-format';
import { openAiError } from '../domain/openai-errors';
import { quotaHeaders } from '../domain/quota-headers';
import { requestHash } from '../domain/request-hash';
import { completeChat, type ChatCompletionDeps, type EventSink } from '../use-cases/chat-completion';
import { responseSink, SSE_HEADERS, type SinkLimits } from './response-sink';
import { runIdempotent, type StoredResponse } from '../use-cases/idempotency';
import { authenticate, keyFromHeader, principalOf, type AuthenticateDeps } from './auth.middleware';
import type { SqlPort } from '@qv/db/sql';

export const CHAT_COMPLETIONS_PATH = '/v1/chat/completions';

export interface ChatCompletionsRouteDeps extends ChatCompletionDeps, AuthenticateDeps {
  db: SqlPort;
  idempotency: { ttlHours: number; lockSeconds: number };
  /** How far a streaming client may fall behind before it is disconnected (CHAT_STREAM_BUFFER_BYTES). */
  streamBufferBytes: number;
}

/** What the idempotency record keeps: the answer, and whether it was streamed (it is replayed so). */
interface StoredChatResponse {
  stream: boolean;
  includeUsage: boolean;
  completion: StoredChatCompletion;
  /** The provider's own answer as it was passed on (ChatDialect.passesProviderAnswer): a replay is the same body. */
  answer?: Record<string, unknown>;
}

function cacheOption(req: Request): { tier: ChatCacheTier; ttlSeconds?: number } | undefined {
  const tier = req.header('x-qv-cache');
  if (tier === undefined || tier === '' || tier === 'off') return undefined;
  const ttl = req.header('x-qv-cache-ttl');
  return {
    tier: parseOr400(ChatCacheTier, tier, 'X-QV-Cache header (session, content or off)'),
    ...(ttl === undefined ? {} : { ttlSeconds: parseOr400(ChatCacheTtlHeader, ttl, 'X-QV-Cache-TTL header') }),
  };
}

/**
 * How one provider API's clients speak to the chat path: its body as the chat request
 * `completeChat` answers, and the answer, a replayed stream and errors in its own shapes.
 */
export interface ChatDialect {
  path: string;
  parse(body: unknown): { request: ChatCompletionRequest; stream: boolean; includeUsage: boolean };
  sink(res: Response, limits: SinkLimits): EventSink;
  answerBody(completion: StoredChatCompletion): Record<string, unknown>;
  replayStream(completion: StoredChatCompletion, includeUsage: boolean): string;
  error(err: AppError): { status: number; body: unknown };
  /** The event that ends a stream an error cut after its first event. */
  streamError(body: unknown): string;
  /** A header carrying the key for clients that send no `Authorization` (Anthropic's `x-api-key`). */
  apiKeyHeader?: string;
  /** The provider speaks this dialect: its unstreamed answer is passed on as it came (ChatCallResult.providerAnswer), not rebuilt by `answerBody`. */
  passesProviderAnswer?: boolean;
}

/** OpenAI's Chat Completions: the chat path's own shapes. */
export const OPENAI_CHAT: ChatDialect = {
  path: CHAT_COMPLETIONS_PATH,
  parse(raw) {
    const request = parseOr400(ChatCompletionRequest, raw);
    return { request, stream: request.stream === true, includeUsage: request.stream_options?.include_usage === true };
  },
  sink: responseSink,
  answerBody: completionBody,
  replayStream: (completion, includeUsage) => replayEvents(completion, includeUsage).join(''),
  error: openAiError,
  streamError: (body) => `data: ${JSON.stringify(body)}\n\n`,
  passesProviderAnswer: true,
};

/**
 * `POST /v1/chat/completions`, OpenAI-compatible: the official SDKs work with their base URL set
 * to `<api>/v1` and a Quota Vault key. Authenticated here (not by the /v1 middleware) so that every
 * error of this path, a 401 included, has OpenAI's shape and an SDK raises its usual error class.
 * The X-AI-Quota-* headers are on answers and quota refusals, as on items; Idempotency-Key as on
 * items (a replay neither charges nor calls the provider, and a streamed call is replayed streamed).
 */
export function chatCompletionsRoutes(deps: ChatCompletionsRouteDeps): Router {
  return chatRoutes(deps, OPENAI_CHAT);
}

/** The chat path spoken in `dialect`: the same charge, cache, provider, settlement and idempotency whatever the shapes. */
export function chatRoutes(deps: ChatCompletionsRouteDeps, dialect: ChatDialect): Router {
  const router = Router();
  const keyHeaders = dialect.apiKeyHeader ? [keyFromHeader(dialect.apiKeyHeader)] : [];

  router.post(dialect.path, ...keyHeaders, authenticate(deps), async (req, res) => {
    const principal = principalOf(res);
    const { request: body, stream, includeUsage } = dialect.parse(req.body);
    const cache = cacheOption(req);
    const rawKey = req.header('idempotency-key');
    const key = rawKey === undefined ? undefined : parseOr400(IdempotencyKeyHeader, rawKey, 'Idempotency-Key header');

    const call = async (callId: string): Promise<StoredResponse> => {
      try {
        const limits: SinkLimits = {
          maxBufferedBytes: deps.streamBufferBytes,
          onTooSlow: (buffered) => deps.logger.warn({ callId, userId: principal.userId, buffered }, 'streaming client too slow: disconnected, the call is settled all the same'),
        };
        const result = await completeChat(deps, principal, body, { callId, cache, ...(stream ? { sink: dialect.sink(res, limits) } : {}) });
        const answer = dialect.passesProviderAnswer ? (result.providerAnswer as Record<string, unknown> | undefined) : undefined;
        const stored: StoredChatResponse = { stream, includeUsage, completion: result.completion, ...(answer ? { answer } : {}) };
        return { status: result.status, body: stored, headers: result.headers };
      } catch (err) {
        const status = err instanceof AppError ? (err.details as QuotaStatus | undefined) : undefined;
        if (status?.quotas && !res.headersSent) res.set(quotaHeaders(status));
        throw err;
      }
    };
    // An idempotent call's id comes from its claim (an item-style id, resumed with it): the same body, `chc_`.
    const response: StoredResponse & { replayed?: boolean } =
      key === undefined
        ? await call(newId('chc'))
        : await runIdempotent(deps.db, { userId: principal.userId, key, requestHash: requestHash('POST', dialect.path, req.body), ...deps.idempotency }, (itemId) =>
            call(itemId.replace(/^itm_/, 'chc_')),
          );

    const stored = response.body as StoredChatResponse;
    if (!response.replayed) {
      if (stream) return void res.end(); // already streamed, to its end
      // Straight to node:http: Express's res.json (its charset negotiation and freshness check, with the
      // write and the encoding) was 4.8 % of this process's samples per call.
      return void writeAnswer(res, { status: response.status, json: stored.answer ?? dialect.answerBody(stored.completion) }, response.headers);
    }
    res.set({ ...response.headers, 'Idempotent-Replayed': 'true' });
    if (!stored.stream) return void writeAnswer(res, { status: response.status, json: stored.answer ?? dialect.answerBody(stored.completion) });
    res.status(200).set(SSE_HEADERS).end(dialect.replayStream(stored.completion, stored.includeUsage));
  });

  router.use(dialect.path, dialectErrorHandler(dialect, deps.logger));
  return router;
}

/** Every error of the path in its dialect's shape; one after a stream started ends it with an error event. */
export function dialectErrorHandler(dialect: ChatDialect, logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const appError = toAppError(err);
    const { status, body } = dialect.error(appError);
    if (status >= 500) logger.error({ err, requestId: res.locals.requestId, path: req.originalUrl.split('?')[0] }, 'chat completion failed');
    if (res.headersSent) {
      if (!res.writableEnded) res.end(dialect.streamError(body));
      return;
    }
    if (appError.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(appError.retryAfterSeconds));
    res.status(status).json(body);
  };
}

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { type?: string };
  if (e?.type === 'entity.too.large') return new AppError('PAYLOAD_TOO_LARGE', 'The request body is too large');
  if (e?.type === 'entity.parse.failed') return new AppError('VALIDATION_FAILED', 'The request body is not valid JSON');
  return new AppError('INTERNAL', 'Internal error', { cause: err });
}
