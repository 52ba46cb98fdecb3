import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

/** A chat completion call, as the GenAI semantic conventions describe it. */
export interface GenAiCall {
  /** The provider (`openai`, `anthropic`, or this project's `simulator`): gen_ai.provider.name and gen_ai.system. */
  provider: string;
  /** gen_ai.request.model. */
  model: string;
  /** gen_ai.request.max_tokens. */
  maxTokens?: number;
}

/** What a completion reports back: the answering model and the provider's own token counts. */
export interface GenAiUsage {
  model: string;
  promptTokens: number;
  completionTokens: number;
}

/**
 * Runs one LLM call inside a CLIENT span named `chat <model>` carrying the OpenTelemetry GenAI
 * attributes (gen_ai.operation.name, gen_ai.provider.name and its older name gen_ai.system,
 * gen_ai.request.model, gen_ai.response.model, gen_ai.usage.input_tokens / output_tokens); a
 * failure sets error.type and the span's error status. The HTTP span of the call is its child.
 */
export function withGenAiSpan<T extends GenAiUsage>(call: GenAiCall, fn: () => Promise<T>): Promise<T> {
  const attributes: Record<string, string | number> = {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': call.provider,
    'gen_ai.system': call.provider,
    'gen_ai.request.model': call.model,
  };
  if (call.maxTokens !== undefined) attributes['gen_ai.request.max_tokens'] = call.maxTokens;
  return trace.getTracer('quota-vault').startActiveSpan(`chat ${call.model}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      const result = await fn();
      span.setAttributes({
        'gen_ai.response.model': result.model,
        'gen_ai.usage.input_tokens': result.promptTokens,
        'gen_ai.usage.output_tokens': result.completionTokens,
      });
      return result;
    } catch (err) {
      const error = err as Error & { kind?: string };
      span.setAttribute('error.type', error.kind ?? error.name ?? 'Error');
      span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      throw err;
    } finally {
      span.end();
    }
  });
}
