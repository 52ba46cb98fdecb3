import type { StoredToolCall } from '@qv/contracts';
import { countTokensBounded } from '@qv/llm';

/** A tool call as a provider's message carries it, trusted no further than its strings. */
interface ProviderToolCall {
  id?: unknown;
  type?: unknown;
  function?: { name?: unknown; arguments?: unknown };
}

const str = (value: unknown): string => (typeof value === 'string' ? value : '');

/** The function calls of a provider's answer as they are stored and answered (a call without a function, a custom tool, is kept by its id). */
export function storedToolCalls(calls: readonly ProviderToolCall[] | null | undefined): StoredToolCall[] {
  return (calls ?? []).map((call) => ({ id: str(call.id), type: str(call.type) || 'function', function: { name: str(call.function?.name), arguments: str(call.function?.arguments) } }));
}

/** An answer's tokens by the bounded count, when the provider reported none: its text, and each call's name and arguments. */
export function answerTokens(content: string, toolCalls: readonly StoredToolCall[]): number {
  let total = countTokensBounded(content);
  for (const call of toolCalls) total += countTokensBounded(call.function.name) + countTokensBounded(call.function.arguments);
  return total;
}

interface ToolCallDelta {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

/**
 * A stream's function calls put together from their deltas, as the SDKs do: by `index`, the id,
 * type and name from the first delta that has them, the arguments concatenated in order.
 */
export class ToolCallDeltas {
  private readonly calls = new Map<number, { id: string; type: string; name: string; args: string[] }>();

  add(deltas: readonly ToolCallDelta[]): void {
    for (const delta of deltas) {
      const index = typeof delta.index === 'number' ? delta.index : 0;
      let call = this.calls.get(index);
      if (!call) this.calls.set(index, (call = { id: '', type: '', name: '', args: [] }));
      call.id ||= str(delta.id);
      call.type ||= str(delta.type);
      call.name += str(delta.function?.name);
      if (delta.function?.arguments) call.args.push(str(delta.function.arguments));
    }
  }

  assembled(): StoredToolCall[] {
    return [...this.calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => ({ id: c.id, type: c.type || 'function', function: { name: c.name, arguments: c.args.join('') } }));
  }
}
