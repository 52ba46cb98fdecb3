import { httpStatusOf, type AnthropicMessagesRequest, type AppError, type ChatCompletionRequest, type ErrorCode, type StoredChatCompletion } from '@qv/contracts';
import { replayEvents, SSE_DONE } from './chat-format';
import { chatErrorExtras } from './openai-errors';

/**
 * Anthropic's Messages API over the OpenAI-shaped chat path: a body turned into the chat request
 * `completeChat` answers, and its answers, streamed or not, and its errors turned back into
 * Anthropic's shapes, so that the official `@anthropic-ai/sdk` works with its base URL changed.
 */

const textOf = (content: AnthropicMessagesRequest['system']): string => (content === undefined ? '' : typeof content === 'string' ? content : content.map((block) => block.text).join(''));

/** The body as the chat request it means: the system prompt first, text for text, `stop` for `stop_sequences`. */
export function toChatRequest(body: AnthropicMessagesRequest): ChatCompletionRequest {
  const system = textOf(body.system);
  return {
    ...(body.model === undefined ? {} : { model: body.model }),
    messages: [...(system ? [{ role: 'system' as const, content: system }] : []), ...body.messages.map((m) => ({ role: m.role, content: textOf(m.content) }))],
    max_tokens: body.max_tokens,
    ...(body.stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    ...(body.temperature === undefined ? {} : { temperature: body.temperature }),
    ...(body.top_p === undefined ? {} : { top_p: body.top_p }),
    ...(body.stop_sequences === undefined ? {} : { stop: body.stop_sequences }),
  };
}

/** OpenAI's finish reason as Anthropic's stop reason. */
function stopReason(finishReason: string | null): string {
  if (finishReason === 'length') return 'max_tokens';
  if (finishReason === 'content_filter') return 'refusal';
  return 'end_turn';
}

const messageId = (id: string) => `msg_${id.replace(/^chatcmpl-/, '')}`;

/** A completion as Anthropic's `message` body. */
export function messageBody(c: StoredChatCompletion): Record<string, unknown> {
  return {
    id: messageId(c.id),
    type: 'message',
    role: 'assistant',
    model: c.model,
    content: [{ type: 'text', text: c.content }],
    stop_reason: stopReason(c.finishReason),
    stop_sequence: null,
    usage: { input_tokens: c.promptTokens, output_tokens: c.completionTokens },
  };
}

/** Anthropic's error `type` for a status (its SDK picks the error class by status). */
function errorType(status: number): string {
  if (status === 400 || status === 409 || status === 422) return 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 503) return 'overloaded_error';
  return 'api_error';
}

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string; code: ErrorCode; retryAfterSeconds?: number; details?: unknown };
}

/** An error of this path in Anthropic's shape, with our code beside its `type` (`err.error.error.code` in the SDK). */
export function anthropicError(err: AppError): { status: number; body: AnthropicErrorBody } {
  const status = httpStatusOf(err.code);
  return {
    status,
    body: {
      type: 'error',
      error: {
        type: errorType(status),
        message: err.message,
        code: err.code,
        ...chatErrorExtras(err),
      },
    },
  };
}

const event = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

interface OpenAiChunk {
  id?: string;
  model?: string;
  choices?: Array<{ delta?: { content?: string | null }; finish_reason?: string | null }>;
  usage?: { prompt_tokens: number; completion_tokens: number };
  error?: { message?: string; code?: ErrorCode; type?: string };
}

/**
 * The chat path's stream (OpenAI's `data:` events, as `completeChat` hands them to its sink)
 * rewritten as Anthropic's: `message_start` and a text `content_block_start` before the first
 * text, a `content_block_delta` per piece, then `content_block_stop`, `message_delta` (the stop
 * reason and the usage the call settles to) and `message_stop`; a stream that broke ends with an
 * `error` event.
 */
export class AnthropicStream {
  private started = false;
  private finishReason: string | null = null;
  private usage = { input_tokens: 0, output_tokens: 0 };

  /** `inputTokens`: what `message_start` reports, the prompt's charged count; the provider's own arrives with the usage. */
  constructor(private readonly inputTokens: number) {}

  /** The Anthropic events for one of the chat path's events. */
  translate(openAiEvent: string): string {
    const chunk = parse(openAiEvent);
    if (!chunk) return '';
    let out = this.open(chunk);
    const choice = chunk.choices?.[0];
    if (choice?.delta?.content) out += event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: choice.delta.content } });
    if (choice?.finish_reason) this.finishReason = choice.finish_reason;
    if (chunk.usage) this.usage = { input_tokens: chunk.usage.prompt_tokens, output_tokens: chunk.usage.completion_tokens };
    return out;
  }

  /** The events that end the stream, for the chat path's last one (`[DONE]`, or an error). */
  finish(lastEvent: string): string {
    if (lastEvent !== SSE_DONE) {
      const failure = parse(lastEvent)?.error;
      return event('error', { error: { type: 'api_error', message: failure?.message ?? 'the provider stream broke', ...(failure?.code ? { code: failure.code } : {}) } });
    }
    return (
      this.open({}) +
      event('content_block_stop', { index: 0 }) +
      event('message_delta', { delta: { stop_reason: stopReason(this.finishReason), stop_sequence: null }, usage: this.usage }) +
      event('message_stop', {})
    );
  }

  private open(chunk: OpenAiChunk): string {
    if (this.started) return '';
    this.started = true;
    const message = { id: messageId(chunk.id ?? 'unknown'), type: 'message', role: 'assistant', model: chunk.model ?? '', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: this.inputTokens, output_tokens: 0 } };
    return event('message_start', { message }) + event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  }
}

function parse(openAiEvent: string): OpenAiChunk | undefined {
  const data = openAiEvent.startsWith('data: ') ? openAiEvent.slice(6).trim() : '';
  if (!data || data === '[DONE]') return undefined;
  try {
    return JSON.parse(data) as OpenAiChunk;
  } catch {
    return undefined;
  }
}

/** A stored completion (an idempotent replay) as Anthropic's whole stream. */
export function replayAnthropic(c: StoredChatCompletion): string {
  const stream = new AnthropicStream(c.promptTokens);
  const events = replayEvents(c, true);
  return events.slice(0, -1).map((e) => stream.translate(e)).join('') + stream.finish(events[events.length - 1]);
}
