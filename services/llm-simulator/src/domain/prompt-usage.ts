import { countChatTokensBounded, countTokensBounded } from '@qv/llm';

interface Part {
  type: string;
  text?: string;
  image_url?: unknown;
}
interface Message {
  role: string;
  content: string | Part[] | null;
  name?: unknown;
  tool_calls?: unknown;
  tool_call_id?: unknown;
}
interface Tool {
  function?: { name?: unknown; description?: unknown; parameters?: unknown };
}

/** Images as OpenAI bills them at gpt-4o: a 1024×1024 image at high (or auto) detail, 85 + 4 × 170; at low detail, 85. */
export const IMAGE_TOKENS = { high: 765, low: 85 } as const;

const text = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value));
const textOf = (content: Message['content']): string => (content === null ? '' : typeof content === 'string' ? content : content.map((part) => part.text ?? '').join(''));

/**
 * The prompt tokens this simulated provider bills for a chat body, modelled on what OpenAI bills
 * as prompt: the messages as gpt-4o counts them (3 per message, role and text, 3 for the reply),
 * and beside their text what a real provider also reads: a message's `name` (1 more), each tool
 * call it made (3, its function's name and arguments), a tool result's `tool_call_id`, each
 * image (IMAGE_TOKENS), and the function definitions as OpenAI renders them (its cookbook's
 * count: 12 for the set; per function 7, its name, description and parameters).
 */
export function billedPromptTokens(messages: readonly Message[], tools: readonly Tool[] | undefined): number {
  let total = countChatTokensBounded(messages.map((m) => ({ role: m.role, content: textOf(m.content) })));
  for (const m of messages) {
    if (m.name !== undefined) total += 1 + countTokensBounded(text(m.name));
    if (m.tool_call_id !== undefined) total += countTokensBounded(text(m.tool_call_id));
    if (Array.isArray(m.tool_calls)) {
      for (const call of m.tool_calls as Array<{ function?: { name?: unknown; arguments?: unknown } }>) {
        total += 3 + countTokensBounded(text(call?.function?.name)) + countTokensBounded(text(call?.function?.arguments));
      }
    }
    if (Array.isArray(m.content)) {
      for (const part of m.content) {
        if (part.type === 'image_url') total += (part.image_url as { detail?: string } | undefined)?.detail === 'low' ? IMAGE_TOKENS.low : IMAGE_TOKENS.high;
      }
    }
  }
  if (tools && tools.length > 0) {
    total += 12;
    for (const tool of tools) {
      const f = tool?.function ?? {};
      total += 7 + countTokensBounded(text(f.name)) + countTokensBounded(text(f.description)) + countTokensBounded(text(f.parameters));
    }
  }
  return total;
}
