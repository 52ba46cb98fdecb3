import { AppError, sha256Hex, type CacheKeyParts, type ChatCacheTier, type ChatCompletionRequest, type ChatRequestMessage } from '@qv/contracts';
import { countTokensBounded, countTokensBoundedAsync } from '@qv/llm';
import { requestHash } from './request-hash';

/** Bumped when what a cached chat answer means changes (the key, the stored shape). */
export const CHAT_CACHE_VERSION = 'openai-chat@2';
const CHAT_CACHE_TASK = 'chat.completions';

/** OpenAI's framing tokens (the simulator and gpt-4o count them so too; libs/llm countChatTokensBounded). */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_REPLY = 3;

/** A message's text: a string, or its text parts joined (other parts carry no text to count). */
export function messageText(message: ChatRequestMessage): string {
  const content = message.content;
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  return content.map((part) => part.text ?? '').join('');
}

/**
 * Top-level fields that are not prompt: how the answer is sampled, capped and delivered. Every
 * other field is counted as its JSON text, because a provider may bill it as prompt (`tools`,
 * `functions`, `tool_choice`, `response_format`'s schema, `prediction`, and whatever a new API
 * version adds): an unknown field is counted rather than trusted.
 */
const NOT_PROMPT = new Set([
  'model', 'messages', 'max_tokens', 'max_completion_tokens', 'stream', 'stream_options', 'n',
  'temperature', 'top_p', 'seed', 'presence_penalty', 'frequency_penalty', 'logit_bias', 'logprobs', 'top_logprobs',
  'stop', 'user', 'store', 'metadata', 'service_tier', 'parallel_tool_calls', 'reasoning_effort',
]);

/** OpenAI's framing of function definitions (its cookbook's count: 12 for the set, 7 per function). */
const TOKENS_PER_TOOL_SET = 12;
const TOKENS_PER_TOOL = 7;

/** Content parts whose cost no bound can be put on before the call (a `file` may be an uploaded id). */
const UNBOUNDED_PART_TYPES = new Set(['file']);

export interface PromptBounds {
  /** What one image part may cost, whatever its size and detail (CHAT_IMAGE_PART_TOKENS). */
  imagePartTokens: number;
}

/**
 * The prompt's tokens as the charge estimates them, an upper bound of what the provider bills:
 * OpenAI's count for the messages (3 per message, its role and text, 3 for the reply) with the
 * bounded, linear tokenizer, exact for ordinary text; each message's other fields (`name`,
 * `tool_calls`, `tool_call_id`…) and non-text parts as their JSON text, an image part at
 * `imagePartTokens`; every top-level field that may be prompt as its JSON, with OpenAI's framing
 * of tools. Counted in slices that leave the event loop free. Without this, a call's tools or
 * tool results, billed as prompt, were settled past the budget the charge had checked.
 * A part whose cost cannot be bounded (`file`) is refused: 400, nothing charged.
 */
export async function estimatePromptTokens(body: ChatCompletionRequest, bounds: PromptBounds): Promise<number> {
  let total = TOKENS_PER_REPLY;
  for (const message of body.messages) {
    const { role, content, ...rest } = message;
    total += TOKENS_PER_MESSAGE + countTokensBounded(role) + (await countTokensBoundedAsync(messageText(message)));
    if (Object.keys(rest).length > 0) total += await countTokensBoundedAsync(JSON.stringify(rest));
    if (Array.isArray(content)) {
      for (const part of content) {
        if (part.type === 'text') continue;
        if (UNBOUNDED_PART_TYPES.has(part.type)) throw new AppError('VALIDATION_FAILED', `A "${part.type}" content part cannot be charged before the call (its cost has no bound): send its text instead`);
        total += part.type === 'image_url' ? bounds.imagePartTokens : await countTokensBoundedAsync(JSON.stringify(part));
      }
    }
  }
  const prompted = Object.entries(body).filter(([field]) => !NOT_PROMPT.has(field));
  if (prompted.length > 0) total += await countTokensBoundedAsync(JSON.stringify(Object.fromEntries(prompted)));
  for (const field of ['tools', 'functions'] as const) {
    const set = body[field];
    if (Array.isArray(set) && set.length > 0) total += TOKENS_PER_TOOL_SET + TOKENS_PER_TOOL * set.length;
  }
  return total;
}

/** The cap the client asked for, by either of OpenAI's names. */
export const requestedCap = (body: ChatCompletionRequest): number | undefined => body.max_completion_tokens ?? body.max_tokens ?? undefined;

/**
 * The body sent upstream: the client's, with the model resolved, the cap replaced by the clamped
 * one (under the name the client used, `max_tokens` by default) and, streaming, the usage chunk
 * always asked for: settlement needs it whatever the client wants to see.
 */
export function upstreamBody(body: ChatCompletionRequest, model: string, maxTokens: number): Record<string, unknown> {
  const { max_tokens: _maxTokens, max_completion_tokens: maxCompletionTokens, stream_options: streamOptions, ...rest } = body;
  const capField = maxCompletionTokens !== undefined && maxCompletionTokens !== null ? 'max_completion_tokens' : 'max_tokens';
  return {
    ...rest,
    model,
    [capField]: maxTokens,
    ...(body.stream ? { stream: true, stream_options: { ...(streamOptions ?? {}), include_usage: true } } : { stream: false }),
  };
}

/**
 * The cache key of a call: the user's own scope (never served across users), the model and a hash
 * of the whole request as it goes upstream, minus how it is delivered (streamed or not, usage
 * shown or not): the same question with the same cap and parameters is the same answer.
 */
export function chatCacheKey(tier: ChatCacheTier, userId: string, model: string, sent: Record<string, unknown>): CacheKeyParts {
  const { stream: _stream, stream_options: _options, ...question } = sent;
  const digest = sha256Hex(requestHash('POST', '/v1/chat/completions', question));
  // Frozen: cacheKey hashes a frozen key object once, for the read, the fill and their batching.
  return Object.freeze({ tier, scope: userId, task: CHAT_CACHE_TASK, model, promptVersion: CHAT_CACHE_VERSION, input: digest });
}
