import { httpStatusOf, type AppError, type ErrorCode, type StoredChatCompletion } from '@qv/contracts';
import { replayEvents, SSE_DONE } from './chat-format';
import { chatErrorExtras } from './openai-errors';

/**
 * Anthropic's Messages API over the OpenAI-shaped chat path, its answers' side: `completeChat`'s
 * answers, streamed or not, and its errors turned back into Anthropic's shapes, so that the
 * official `@anthropic-ai/sdk` works with its base URL changed (the body's side: anthropic-request.ts).
 */

/** OpenAI's finish reason as Anthropic's stop reason. */
function stopReason(finishReason: string | null): string {
  if (finishReason === 'length') return 'max_tokens';
  if (finishReason === 'tool_calls') return 'tool_use';
  if (finishReason === 'content_filter') return 'refusal';
  return 'end_turn';
}

const messageId = (id: string) => `msg_${id.replace(/^chatcmpl-/, '')}`;

/** A call's arguments as a `tool_use` block's input: the object they are, or `{}` when they are none (cut at the cap). */
function toolInput(args: string): Record<string, unknown> {
  try {
    const input = JSON.parse(args) as unknown;
    return input !== null && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A completion's content blocks: its text (always, when it called nothing), then a `tool_use` block per call. */
function contentBlocks(c: StoredChatCompletion): Array<Record<string, unknown>> {
  const calls = (c.toolCalls ?? []).map((call) => ({ type: 'tool_use', id: call.id, name: call.function.name, input: toolInput(call.function.arguments) }));
  return [...(c.content || !calls.length ? [{ type: 'text', text: c.content }] : []), ...calls];
}

/** A completion as Anthropic's `message` body. */
export function messageBody(c: StoredChatCompletion): Record<string, unknown> {
  return {
    id: messageId(c.id),
    type: 'message',
    role: 'assistant',
    model: c.model,
    content: contentBlocks(c),
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

interface OpenAiToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

interface OpenAiChunk {
  id?: string;
  model?: string;
  choices?: Array<{ delta?: { content?: string | null; tool_calls?: OpenAiToolCallDelta[] }; finish_reason?: string | null }>;
  usage?: { prompt_tokens: number; completion_tokens: number };
  error?: { message?: string; code?: ErrorCode; type?: string };
}

/**
 * The chat path's stream (OpenAI's `data:` events, as `completeChat` hands them to its sink)
 * rewritten as Anthropic's: `message_start`, then each content block in turn — a text block's
 * `content_block_start`, a `text_delta` per piece; a function call's `tool_use` block, an
 * `input_json_delta` per piece of its arguments — each closed by `content_block_stop` when the next
 * begins, then `message_delta` (the stop reason and the usage the call settles to) and
 * `message_stop`; a stream that broke ends with an `error` event.
 */
export class AnthropicStream {
  private started = false;
  private finishReason: string | null = null;
  private usage = { input_tokens: 0, output_tokens: 0 };
  /** The block being written (its index and kind), none before the first. */
  private block: { index: number; kind: 'text' | 'tool_use' } | null = null;
  /** The block index of each of OpenAI's tool call indices. */
  private readonly toolBlocks = new Map<number, number>();

  /** `inputTokens`: what `message_start` reports, the prompt's charged count; the provider's own arrives with the usage. */
  constructor(private readonly inputTokens: number) {}

  /** The Anthropic events for one of the chat path's events. */
  translate(openAiEvent: string): string {
    const chunk = parse(openAiEvent);
    if (!chunk) return '';
    let out = this.start(chunk);
    const choice = chunk.choices?.[0];
    const text = choice?.delta?.content;
    if (text) {
      if (this.block?.kind !== 'text') out += this.next('text', { type: 'text', text: '' });
      out += event('content_block_delta', { index: this.block!.index, delta: { type: 'text_delta', text } });
    }
    for (const call of choice?.delta?.tool_calls ?? []) {
      const k = call.index ?? 0;
      if (!this.toolBlocks.has(k)) {
        out += this.next('tool_use', { type: 'tool_use', id: call.id ?? '', name: call.function?.name ?? '', input: {} });
        this.toolBlocks.set(k, this.block!.index);
      }
      if (call.function?.arguments) out += event('content_block_delta', { index: this.toolBlocks.get(k), delta: { type: 'input_json_delta', partial_json: call.function.arguments } });
    }
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
    // A message has a block, an empty text one when nothing came.
    const opened = this.start({}) + (this.block ? '' : this.next('text', { type: 'text', text: '' }));
    return (
      opened +
      event('content_block_stop', { index: this.block!.index }) +
      event('message_delta', { delta: { stop_reason: stopReason(this.finishReason), stop_sequence: null }, usage: this.usage }) +
      event('message_stop', {})
    );
  }

  private start(chunk: OpenAiChunk): string {
    if (this.started) return '';
    this.started = true;
    const message = { id: messageId(chunk.id ?? 'unknown'), type: 'message', role: 'assistant', model: chunk.model ?? '', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: this.inputTokens, output_tokens: 0 } };
    return event('message_start', { message });
  }

  /** The open block closed and the next one started. */
  private next(kind: 'text' | 'tool_use', contentBlock: Record<string, unknown>): string {
    const closed = this.block ? event('content_block_stop', { index: this.block.index }) : '';
    this.block = { index: this.block ? this.block.index + 1 : 0, kind };
    return closed + event('content_block_start', { index: this.block.index, content_block: contentBlock });
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
