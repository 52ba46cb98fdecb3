import { isTracingStarted, withGenAiSpan } from '@qv/telemetry';
import type { CompletionRequest, CompletionResult, LlmProvider } from '../types';

/** Every call of `inner` in a GenAI span (libs/telemetry withGenAiSpan): provider, model, token counts. */
class TracedProvider implements LlmProvider {
  constructor(private readonly inner: LlmProvider) {}

  get name(): string {
    return this.inner.name;
  }

  get model(): string {
    return this.inner.model;
  }

  complete(req: CompletionRequest): Promise<CompletionResult> {
    return withGenAiSpan({ provider: this.inner.name, model: req.model ?? this.inner.model, maxTokens: req.maxTokens }, () => this.inner.complete(req));
  }
}

/** `provider` traced when this process exports traces; as it is otherwise (no span bookkeeping per call). */
export function traced(provider: LlmProvider): LlmProvider {
  return isTracingStarted() ? new TracedProvider(provider) : provider;
}
