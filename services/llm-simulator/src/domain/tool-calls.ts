import { countTokensBounded, truncateToTokens } from '@qv/llm';
import { stripDirectives } from './directives';

export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as the model wrote them: JSON text, unless cut at the cap. */
  arguments: string;
}

/** What a model that calls a function answers: no text, the call, its tokens. */
export interface ToolCallAnswer {
  toolCall: ToolCall;
  /** `length` when the arguments were cut at `maxTokens`. */
  finishReason: 'tool_calls' | 'length';
  completionTokens: number;
}

/** The longest `input` argument the simulated model writes (characters of the user's text). */
const ARGUMENT_CHARS = 200;

/**
 * The function the body makes the model call (of its `function` tools): the named one (`tool_choice: {type: 'function',
 * function: {name}}`), the first with `tool_choice: 'required'`; none with `auto`, `none` or no
 * choice (the simulated model then answers in text, deterministically).
 */
export function chosenTool(tools: ReadonlyArray<{ function?: { name: string } }> | undefined, toolChoice: unknown): string | undefined {
  const names = (tools ?? []).flatMap((t) => (t.function ? [t.function.name] : []));
  if (names.length === 0) return undefined;
  if (toolChoice === 'required') return names[0];
  const named = (toolChoice as { function?: { name?: unknown } } | undefined)?.function?.name;
  return typeof named === 'string' && names.includes(named) ? named : undefined;
}

/**
 * A call of `name` whose one argument, `input`, is the start of the user's text; its tokens (the
 * name's and the arguments') never past `maxTokens`: arguments that do not fit are cut there, as a
 * model's are at its cap.
 */
export function toolCallAnswer(id: string, name: string, userText: string, maxTokens: number): ToolCallAnswer {
  const nameTokens = countTokensBounded(name);
  const whole = JSON.stringify({ input: stripDirectives(userText).replace(/\s+/g, ' ').trim().slice(0, ARGUMENT_CHARS) });
  const wholeTokens = nameTokens + countTokensBounded(whole);
  if (wholeTokens <= maxTokens) return { toolCall: { id, name, arguments: whole }, finishReason: 'tool_calls', completionTokens: wholeTokens };
  const cut = truncateToTokens(whole, Math.max(0, maxTokens - nameTokens));
  return { toolCall: { id, name, arguments: cut }, finishReason: 'length', completionTokens: Math.min(maxTokens, nameTokens + countTokensBounded(cut)) };
}
