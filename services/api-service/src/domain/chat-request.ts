import { sha256Hex, type CacheKeyParts, type ChatCacheTier, type ChatCompletionRequest, type ChatRequestMessage } from '@qv/contracts';
import { countTokensBounded, countTokensBoundedAsync } from '@qv/llm';
import { requestHash } from './request-hash';

/** Bumped when what a cached chat answer means changes (the key, the stored shape). */
export const CHAT_CACHE_VERSION = 'openai-chat@1';
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
 * The prompt's tokens as the charge estimates them: OpenAI's count (3 per message, its role and
 * text, 3 for the reply) with the bounded, linear tokenizer, in slices that leave the event loop
 * free — an upper bound of the provider's count, exact for ordinary text.
 */
export async function estimatePromptTokens(messages: readonly ChatRequestMessage[]): Promise<number> {
  let total = TOKENS_PER_REPLY;
  for (const message of messages) total += TOKENS_PER_MESSAGE + countTokensBounded(message.role) + (await countTokensBoundedAsync(messageText(message)));
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
