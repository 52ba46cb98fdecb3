import { z } from 'zod';
import { INT32_MAX, safeString } from './bounds';
import { ToolName } from './chat';

/**
 * Anthropic's Messages API body (`POST /v1/messages`), as far as Quota Vault answers it: text,
 * images in user turns, tool use (`tools`, `tool_choice`, `tool_use` and `tool_result` blocks), an
 * optional system prompt, the required `max_tokens`, streaming, and the sampling fields passed on.
 * Other blocks (documents, thinking) are refused with a 400 naming them: they have no faithful form
 * on the OpenAI-compatible provider layer.
 */
export const AnthropicTextBlock = z.looseObject({ type: z.literal('text'), text: safeString() });
const toolId = () => safeString().min(1).max(256);
const toolName = () => ToolName;

/** A call the assistant made, as the client sends it back in the conversation. */
export const AnthropicToolUseBlock = z.looseObject({ type: z.literal('tool_use'), id: toolId(), name: toolName(), input: z.record(z.string(), z.unknown()) });
/** What the client's tool answered, in a user turn. */
export const AnthropicToolResultBlock = z.looseObject({
  type: z.literal('tool_result'),
  tool_use_id: toolId(),
  content: z.union([safeString(), z.array(AnthropicTextBlock).max(1000)]).optional(),
  is_error: z.boolean().optional(),
});
/** An image in a user turn: its bytes (base64, one of Anthropic's four types) or a URL. */
export const AnthropicImageBlock = z.looseObject({
  type: z.literal('image'),
  source: z.discriminatedUnion('type', [
    z.looseObject({ type: z.literal('base64'), media_type: z.enum(['image/jpeg', 'image/png', 'image/gif', 'image/webp']), data: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64') }),
    z.looseObject({ type: z.literal('url'), url: z.url({ protocol: /^https?$/ }).max(8192) }),
  ]),
});
const anthropicBlock = z.discriminatedUnion('type', [AnthropicTextBlock, AnthropicImageBlock, AnthropicToolUseBlock, AnthropicToolResultBlock]);
const textContent = z.union([safeString(), z.array(AnthropicTextBlock).min(1).max(1000)]);
const messageContent = z.union([safeString(), z.array(anthropicBlock).min(1).max(1000)]);

export const AnthropicTool = z.looseObject({ name: toolName(), description: safeString().optional(), input_schema: z.record(z.string(), z.unknown()) });
export const AnthropicToolChoice = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('auto') }),
  z.looseObject({ type: z.literal('any') }),
  z.looseObject({ type: z.literal('none') }),
  z.looseObject({ type: z.literal('tool'), name: toolName() }),
]);

export const AnthropicMessagesRequest = z.looseObject({
  model: safeString().min(1).max(200).optional(),
  max_tokens: z.number().int().min(1).max(INT32_MAX),
  messages: z
    .array(
      z.looseObject({ role: z.enum(['user', 'assistant']), content: messageContent }).refine(
        (m) => typeof m.content === 'string' || m.content.every((block) => (m.role === 'assistant' ? block.type === 'text' || block.type === 'tool_use' : block.type !== 'tool_use')),
        { message: 'an assistant turn holds text and tool_use blocks; a user turn text, image and tool_result blocks' },
      ),
    )
    .min(1)
    .max(1000),
  system: textContent.optional(),
  tools: z.array(AnthropicTool).max(128).optional(),
  tool_choice: AnthropicToolChoice.optional(),
  stream: z.boolean().optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  /** At most 4: they become OpenAI's `stop`, which takes no more. */
  stop_sequences: z.array(safeString().max(1000)).max(4).optional(),
});
export type AnthropicMessagesRequest = z.infer<typeof AnthropicMessagesRequest>;
export type AnthropicMessage = AnthropicMessagesRequest['messages'][number];
