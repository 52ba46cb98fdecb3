import { z } from 'zod';
import { INT32_MAX, safeString } from './bounds';

/**
 * Anthropic's Messages API body (`POST /v1/messages`), as far as Quota Vault answers it: text
 * content (a string, or `text` blocks), an optional system prompt, the required `max_tokens`,
 * streaming, and the sampling fields passed on. Other blocks (images, tools) are refused with a
 * 400 naming them: they have no faithful form on the OpenAI-compatible provider layer.
 */
export const AnthropicTextBlock = z.looseObject({ type: z.literal('text'), text: safeString() });
const anthropicContent = z.union([safeString(), z.array(AnthropicTextBlock).min(1).max(1000)]);

export const AnthropicMessagesRequest = z.looseObject({
  model: safeString().min(1).max(200).optional(),
  max_tokens: z.number().int().min(1).max(INT32_MAX),
  messages: z.array(z.looseObject({ role: z.enum(['user', 'assistant']), content: anthropicContent })).min(1).max(1000),
  system: anthropicContent.optional(),
  stream: z.boolean().optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  stop_sequences: z.array(safeString().max(1000)).max(16).optional(),
});
export type AnthropicMessagesRequest = z.infer<typeof AnthropicMessagesRequest>;
