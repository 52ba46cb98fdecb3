import type { OpenAPIRegistry, ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { AnthropicMessagesRequest, ChatCacheTier, ChatCompletionRequest, ErrorCode, IdempotencyKeyHeader, StoredToolCall } from '@qv/contracts';
import { z } from 'zod';

// OpenAI's shapes, as this path answers them (domain/openai-errors.ts, domain/chat-format.ts).
const OpenAiErrorBodySchema = z.object({
  error: z.object({
    message: z.string(),
    type: z.string().meta({ description: 'OpenAI’s error type: invalid_request_error, authentication_error, rate_limit_error, api_error…' }),
    code: ErrorCode.meta({ description: 'Quota Vault’s error code (the SDKs expose it as `error.code`).' }),
    param: z.string().nullable(),
    retryAfterSeconds: z.number().int().optional(),
    details: z.unknown().optional(),
  }),
});
const openAiErrorBody = OpenAiErrorBodySchema.meta({ id: 'OpenAiErrorBody' });
const ChatCompletion = z.object({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      message: z.object({ role: z.literal('assistant'), content: z.string().nullable(), tool_calls: z.array(StoredToolCall).optional(), refusal: z.string().nullable() }),
      logprobs: z.null(),
      finish_reason: z.string().nullable(),
    }),
  ),
  usage: z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() }),
});

const CHAT_HEADERS: Record<string, string> = {
  'X-QV-Call-Id': 'The call’s id (`chc_…`): the item id of its reservation and ledger entry.',
  'X-QV-Reservation-Id': 'The reservation the call was charged under.',
  'X-QV-Max-Tokens': 'The completion cap sent to the provider (and charged as the answer’s part of the estimate).',
  'X-QV-Max-Tokens-Clamped': 'Present when the token budgets left (day and month) cut the cap asked for: the cap used.',
  'X-QV-Cache': '`hit`, `miss` (opted in, answered by the provider) or `off` (not opted in, or the plan has no TTL for the tier).',
  'X-QV-Cache-Tokens-Saved': 'On a hit: the tokens the cached answer cost.',
};

interface SharedComponents {
  security: Record<string, string[]>[];
  quotaHeaders: Record<string, { $ref: string }>;
  retryAfter: { $ref: string };
}

const callHeaders = Object.fromEntries(Object.entries(CHAT_HEADERS).map(([name, description]) => [name, { description, schema: { type: 'string' as const } }]));

const requestHeaders = z.object({
  'Idempotency-Key': IdempotencyKeyHeader.optional().meta({ description: 'A repeat of the same body returns the first answer (streamed again if it was streamed), with `Idempotent-Replayed: true`: no second charge, no second provider call.' }),
  'X-QV-Cache': z.union([ChatCacheTier, z.literal('off')]).optional().meta({ description: 'The cache tier this call may be answered from and stored in.' }),
  'X-QV-Cache-TTL': z.string().regex(/^[0-9]+$/).optional().meta({ description: 'Seconds to keep the answer, at most the plan’s TTL for the tier.' }),
});

/** An error response of a chat path: its description, its dialect's error body, any headers. */
const errorResponses =
  (errorSchema: z.ZodType) =>
  (description: string, extra: Partial<ResponseConfig> = {}): ResponseConfig => ({ description, content: { 'application/json': { schema: errorSchema } }, ...extra });

/**
 * The answers of a chat dialect's route: its answer (`answer`: JSON, or server-sent events when
 * streamed) with the quota and call headers, and the errors both dialects answer, each in the
 * dialect's own error body.
 */
function chatResponses(shared: SharedComponents, answer: { description: string; schema: z.ZodType }, errorSchema: z.ZodType): Record<number, ResponseConfig> {
  const error = errorResponses(errorSchema);
  return {
    200: {
      description: answer.description,
      headers: { ...shared.quotaHeaders, ...callHeaders, 'Idempotent-Replayed': { description: '`true` on a stored answer replayed.', schema: { type: 'string', enum: ['true'] } } },
      content: { 'application/json': { schema: answer.schema }, 'text/event-stream': { schema: z.string() } },
    },
    400: error('VALIDATION_FAILED: the body or a header did not parse (`param` names the field), or the provider refused the request.'),
    401: error('UNAUTHENTICATED: no API key, or an unknown or revoked one.'),
    409: error('IDEMPOTENCY_KEY_IN_USE: a call with this key is still being answered.'),
    413: error('PAYLOAD_TOO_LARGE: the body is over the size limit.'),
    422: error('IDEMPOTENCY_KEY_REUSED: this key was used with a different body.'),
    429: error('A quota refused the call (CONCURRENCY_LIMIT_EXCEEDED, HOURLY_RATE_LIMIT_EXCEEDED, DAILY_QUOTA_EXCEEDED, DAILY_TOKEN_QUOTA_EXCEEDED — also when no token is left for an answer after the prompt — or MONTHLY_TOKEN_QUOTA_EXCEEDED), or AUTH_RATE_LIMITED / USER_REQUEST_RATE_EXCEEDED.', {
      headers: { 'Retry-After': shared.retryAfter, ...shared.quotaHeaders },
    }),
    500: error('INTERNAL: an unexpected fault; the message never carries internals.'),
    503: error('QUOTA_SERVICE_UNAVAILABLE (nothing charged) or SERVICE_UNAVAILABLE: the provider failed or its circuit is open (the charge was released).', { headers: { 'Retry-After': shared.retryAfter } }),
  };
}

// Anthropic's shapes, as `POST /v1/messages` answers them (domain/anthropic-format.ts).
const AnthropicErrorBody = z.object({
  type: z.literal('error'),
  error: z.object({
    type: z.string().meta({ description: 'Anthropic’s error type: invalid_request_error, authentication_error, rate_limit_error, overloaded_error, api_error…' }),
    message: z.string(),
    code: ErrorCode.meta({ description: 'Quota Vault’s error code (the SDK exposes the body as `err.error`).' }),
    retryAfterSeconds: z.number().int().optional(),
    details: z.unknown().optional(),
  }),
});
const AnthropicMessage = z.object({
  id: z.string(),
  type: z.literal('message'),
  role: z.literal('assistant'),
  model: z.string(),
  content: z.array(
    z.union([z.object({ type: z.literal('text'), text: z.string() }), z.object({ type: z.literal('tool_use'), id: z.string(), name: z.string(), input: z.record(z.string(), z.unknown()) })]),
  ),
  stop_reason: z.string(),
  stop_sequence: z.null(),
  usage: z.object({ input_tokens: z.number().int(), output_tokens: z.number().int() }),
});

/** `POST /v1/messages`: the chat path spoken as Anthropic's Messages API. */
export function registerAnthropicMessages(registry: OpenAPIRegistry, shared: SharedComponents): void {
  registry.registerPath({
    method: 'post',
    path: '/v1/messages',
    operationId: 'createMessage',
    tags: ['chat'],
    summary: 'Anthropic-compatible message, charged, cached and settled like a chat completion',
    description:
      'Point Anthropic’s SDK at `<api>` with a Quota Vault key (sent as `x-api-key`, or `Authorization: Bearer`). The same call as `POST /v1/chat/completions`: one atomic charge of the prompt plus `max_tokens`, clamped to the budgets left; ' +
      'the provider’s usage settles it into the same ledger. Text, images in user turns and tool use (`tools`, `tool_choice`, `tool_use` and `tool_result` blocks); documents are `400`. `stream: true` answers Anthropic’s server-sent events (`message_start` … `message_stop`, the usage in `message_delta`).',
    security: [...shared.security, { anthropicApiKey: [] }],
    request: {
      headers: requestHeaders,
      body: { required: true, content: { 'application/json': { schema: AnthropicMessagesRequest.meta({ id: 'AnthropicMessagesRequest' }) } } },
    },
    responses: chatResponses(
      shared,
      { description: 'The answer: a `message`, or with `stream: true` Anthropic’s server-sent events.', schema: AnthropicMessage.meta({ id: 'AnthropicMessage' }) },
      AnthropicErrorBody.meta({ id: 'AnthropicErrorBody' }),
    ),
  });
}

/**
 * `POST /v1/chat/completions` in the document. Its errors are OpenAI's shape, not ErrorBody, so
 * that the SDKs raise their usual errors; the quota headers are the shared components.
 */
export function registerChatCompletions(registry: OpenAPIRegistry, shared: SharedComponents): void {
  registry.registerPath({
    method: 'post',
    path: '/v1/chat/completions',
    operationId: 'createChatCompletion',
    tags: ['chat'],
    summary: 'OpenAI-compatible chat completion, charged, cached and settled like an item',
    description:
      'Point an OpenAI SDK at `<api>/v1` with a Quota Vault key. One atomic charge of the prompt’s tokens plus the completion cap; the cap is clamped to the token budgets left after the prompt ' +
      '(`X-QV-Max-Tokens-Clamped`); the provider’s reported usage settles the reservation and writes one ledger entry. `stream: true` answers server-sent events as OpenAI does, settled when the stream ends ' +
      '(also when the client leaves early). `X-QV-Cache: session|content` opts the call into the user’s own cache tier where the plan has a TTL; a hit costs no tokens. ' +
      'Function calling works as at OpenAI (`tools` pass through, the model’s `tool_calls` come back, from the cache too); what the provider bills as prompt beside the messages’ text ' +
      '(function definitions, earlier calls and results, every field not known to be a sampling setting) is charged as its JSON, an image part at `CHAT_IMAGE_PART_TOKENS`; a `file` part, whose cost has no bound before the call, is `400`.',
    security: shared.security,
    request: {
      headers: requestHeaders,
      body: { required: true, content: { 'application/json': { schema: ChatCompletionRequest.meta({ id: 'ChatCompletionRequest' }) } } },
    },
    responses: chatResponses(
      shared,
      { description: 'The answer: a `chat.completion`, or with `stream: true` server-sent `chat.completion.chunk` events ending in `data: [DONE]`.', schema: ChatCompletion.meta({ id: 'ChatCompletion' }) },
      openAiErrorBody,
    ),
  });
}

const ModelList = z.object({
  object: z.literal('list'),
  data: z.array(z.object({ id: z.string(), object: z.literal('model'), created: z.number().int(), owned_by: z.string() })),
});

/** `GET /v1/models`: the provider's models, for the clients that list them first. */
export function registerModels(registry: OpenAPIRegistry, shared: SharedComponents): void {
  const error = errorResponses(openAiErrorBody);
  registry.registerPath({
    method: 'get',
    path: '/v1/models',
    operationId: 'listModels',
    tags: ['chat'],
    summary: 'The provider’s models, as OpenAI’s SDK lists them',
    description:
      'What the configured provider lists (asked at most once a minute; its last list is kept while it fails), for the clients that list models before their first call. With `anthropic-version` (Anthropic’s SDK) the list and errors are in Anthropic’s shape.',
    security: [...shared.security, { anthropicApiKey: [] }],
    responses: {
      200: { description: 'The models.', content: { 'application/json': { schema: ModelList.meta({ id: 'ModelList' }) } } },
      401: error('UNAUTHENTICATED: no API key, or an unknown or revoked one.'),
      429: error('AUTH_RATE_LIMITED: too many failed authentications from this client.', { headers: { 'Retry-After': shared.retryAfter } }),
      503: error('SERVICE_UNAVAILABLE: the provider did not answer and no list is known yet.', { headers: { 'Retry-After': shared.retryAfter } }),
    },
  });
}
