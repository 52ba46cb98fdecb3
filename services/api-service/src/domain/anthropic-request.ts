import type { AnthropicMessage, AnthropicMessagesRequest, ChatCompletionRequest, ChatContentPart, ChatRequestMessage } from '@qv/contracts';

type TextContent = AnthropicMessagesRequest['system'];
const textOf = (content: TextContent): string => (content === undefined ? '' : typeof content === 'string' ? content : content.map((block) => block.text).join(''));

type ImageSource = Extract<Exclude<AnthropicMessage['content'], string>[number], { type: 'image' }>['source'];

/** An image's source as OpenAI's `image_url`: its URL, or its bytes as a data URL. */
const imageUrl = (source: ImageSource): string => (source.type === 'url' ? source.url : `data:${source.media_type};base64,${source.data}`);

/**
 * One Anthropic turn as the chat messages it means. An assistant turn: its text and its
 * `tool_use` blocks as `tool_calls` (the input as JSON arguments). A user turn: each
 * `tool_result` as a `tool` message answering its call, first, then its text, if any (with its
 * images, as OpenAI's content parts, in their order).
 */
function chatMessages(message: AnthropicMessage): ChatRequestMessage[] {
  if (typeof message.content === 'string') return [{ role: message.role, content: message.content }];
  const text = message.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
  if (message.role === 'assistant') {
    const calls = message.content.flatMap((block) => (block.type === 'tool_use' ? [{ id: block.id, type: 'function' as const, function: { name: block.name, arguments: JSON.stringify(block.input) } }] : []));
    return [{ role: 'assistant', content: calls.length && !text ? null : text, ...(calls.length ? { tool_calls: calls } : {}) }];
  }
  const results = message.content.flatMap((block) =>
    block.type === 'tool_result' ? [{ role: 'tool' as const, tool_call_id: block.tool_use_id, content: `${block.is_error ? 'Error: ' : ''}${textOf(block.content)}` }] : [],
  );
  // With images, the turn's text and images as OpenAI's parts, in their order.
  const parts = message.content.some((block) => block.type === 'image')
    ? message.content.flatMap((block): ChatContentPart[] =>
        block.type === 'text' ? [{ type: 'text', text: block.text }] : block.type === 'image' ? [{ type: 'image_url', image_url: { url: imageUrl(block.source) } }] : [],
      )
    : undefined;
  return [...results, ...(parts ? [{ role: 'user' as const, content: parts }] : text || !results.length ? [{ role: 'user' as const, content: text }] : [])];
}

/** Anthropic's tool choice as OpenAI's: `any` is `required`, `tool` names the function. */
function toolChoice(choice: AnthropicMessagesRequest['tool_choice']): ChatCompletionRequest['tool_choice'] {
  if (!choice) return undefined;
  if (choice.type === 'any') return 'required';
  if (choice.type === 'tool') return { type: 'function', function: { name: choice.name } };
  return choice.type;
}

/**
 * The body as the chat request it means: the system prompt first, each turn as chat messages
 * (text, tool calls, tool results), the tools as functions, `stop` for `stop_sequences`.
 */
export function toChatRequest(body: AnthropicMessagesRequest): ChatCompletionRequest {
  const system = textOf(body.system);
  const choice = toolChoice(body.tool_choice);
  return {
    ...(body.model === undefined ? {} : { model: body.model }),
    messages: [...(system ? [{ role: 'system' as const, content: system }] : []), ...body.messages.flatMap(chatMessages)],
    max_tokens: body.max_tokens,
    ...(body.tools?.length ? { tools: body.tools.map((t) => ({ type: 'function' as const, function: { name: t.name, ...(t.description === undefined ? {} : { description: t.description }), parameters: t.input_schema } })) } : {}),
    ...(choice === undefined ? {} : { tool_choice: choice }),
    ...(body.stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    ...(body.temperature === undefined ? {} : { temperature: body.temperature }),
    ...(body.top_p === undefined ? {} : { top_p: body.top_p }),
    ...(body.stop_sequences === undefined ? {} : { stop: body.stop_sequences }),
  };
}
