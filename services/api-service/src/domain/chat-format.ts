import type { StoredChatCompletion } from '@qv/contracts';

/** The assistant's message: its text, and the functions it called (OpenAI sends `content: null` beside calls and no text). */
function messageOf(c: StoredChatCompletion): Record<string, unknown> {
  if (!c.toolCalls?.length) return { role: 'assistant', content: c.content, refusal: null };
  return { role: 'assistant', content: c.content === '' ? null : c.content, tool_calls: c.toolCalls, refusal: null };
}

const usageOf = (c: StoredChatCompletion) => ({ prompt_tokens: c.promptTokens, completion_tokens: c.completionTokens, total_tokens: c.promptTokens + c.completionTokens });

/** A completion as OpenAI's `chat.completion` body. */
export function completionBody(c: StoredChatCompletion): Record<string, unknown> {
  return {
    id: c.id,
    object: 'chat.completion',
    created: c.created,
    model: c.model,
    choices: [{ index: 0, message: messageOf(c), logprobs: null, finish_reason: c.finishReason }],
    usage: usageOf(c),
  };
}

/** One server-sent event. */
export const sseEvent = (data: unknown): string => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
export const SSE_DONE = sseEvent('[DONE]');

/** What ends a line in a server-sent stream (CR, LF or both). */
const LINE_BREAK = /[\r\n]/;

/**
 * A provider's chunk as the client's event: its data as the provider wrote it (no second
 * encoding), unless that text holds a line break (several `data:` lines joined, a CR between JSON
 * tokens), which one event line cannot carry: then the parsed chunk encoded again.
 */
export function passedOnEvent(chunk: unknown, data: string): string {
  return LINE_BREAK.test(data) ? sseEvent(chunk) : `data: ${data}\n\n`;
}

/** Pieces of a replayed answer: words with their whitespace, as a model streams them. */
const pieces = (text: string): string[] => (text.length === 0 ? [] : (text.match(/\s*\S+\s*|\s+/g) ?? [text]));

/**
 * A stored completion (a cache hit, an idempotent replay) as the events of a stream: the role, the
 * content in pieces, each function call whole (its id, name and arguments in one delta), the
 * finish reason, the usage when asked for, `[DONE]`.
 */
export function replayEvents(c: StoredChatCompletion, includeUsage: boolean): string[] {
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => sseEvent({ id: c.id, object: 'chat.completion.chunk', created: c.created, model: c.model, choices, ...extra });
  const delta = (d: Record<string, unknown>) => chunk([{ index: 0, delta: d, logprobs: null, finish_reason: null }]);
  return [
    delta({ role: 'assistant', content: c.toolCalls?.length && c.content === '' ? null : '' }),
    ...pieces(c.content).map((piece) => delta({ content: piece })),
    ...(c.toolCalls ?? []).map((call, index) => delta({ tool_calls: [{ index, ...call }] })),
    chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: c.finishReason }]),
    ...(includeUsage ? [chunk([], { usage: usageOf(c) })] : []),
    SSE_DONE,
  ];
}
