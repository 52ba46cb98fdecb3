import { decode, encode } from 'gpt-tokenizer/cjs/encoding/o200k_base';
import type { ChatMessage } from './types';

/**
 * The tokenizer behind every count in the system: `o200k_base`, the encoding of the gpt-4o family
 * (and of the simulator). Anthropic models tokenize differently; for them the pre-call estimate is an
 * approximation and settlement uses the usage the API reports.
 */
export const TOKENIZER_ENCODING = 'o200k_base';

/** Per-message framing tokens in OpenAI's chat format (`<|im_start|>role<|im_sep|>…<|im_end|>`). */
const TOKENS_PER_MESSAGE = 3;
/** Every reply is primed with `<|im_start|>assistant<|im_sep|>`. */
const TOKENS_PER_REPLY = 3;

// User content may contain text such as "<|endoftext|>": it is counted as the plain text it is,
// never as a control token (and never makes the tokenizer throw).
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/** Tokens of `text` in the o200k_base encoding. */
export function countTokens(text: string): number {
  return text.length === 0 ? 0 : encode(text, PLAIN_TEXT).length;
}

/**
 * Prompt tokens of a chat request, counted as OpenAI counts them for gpt-4o: 3 framing tokens per
 * message, its role and content, plus 3 for the primed reply. This is exactly what the simulator
 * reports as `usage.prompt_tokens` for the same messages.
 */
export function countChatTokens(messages: ReadonlyArray<Pick<ChatMessage, 'content'> & { role: string }>): number {
  let total = TOKENS_PER_REPLY;
  for (const message of messages) total += TOKENS_PER_MESSAGE + countTokens(message.role) + countTokens(message.content);
  return total;
}

/** The longest prefix of `text` that is at most `maxTokens` tokens (on a token boundary). */
export function truncateToTokens(text: string, maxTokens: number): string {
  if (maxTokens <= 0) return '';
  const tokens = encode(text, PLAIN_TEXT);
  return tokens.length <= maxTokens ? text : decode(tokens.slice(0, maxTokens));
}
