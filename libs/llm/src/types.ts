/** One message of a chat completion; the only roles the tasks and both adapters use. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** What a caller asks a provider for. */
export interface CompletionRequest {
  /** Overrides the provider's configured model for this one call. */
  model?: string;
  messages: ChatMessage[];
  /** Hard cap on completion tokens; the quota estimate charges exactly this much for the answer. */
  maxTokens: number;
  /** `json` asks for a JSON object where the provider supports it (OpenAI's `response_format`). */
  responseFormat?: 'json' | 'text';
  /** Aborting it fails the call with `LlmError('timeout')`. */
  signal?: AbortSignal;
}

/** A provider's answer, with the usage the provider itself reported (what settlement uses). */
export interface CompletionResult {
  text: string;
  /** The model the provider says answered, which may be a dated variant of the requested one. */
  model: string;
  promptTokens: number;
  completionTokens: number;
}

/**
 * One LLM backend. Implementations never retry: a failure is thrown once as an `LlmError` whose
 * `retryable` flag tells the queue whether another attempt can help.
 */
export interface LlmProvider {
  readonly name: string;
  readonly model: string;
  complete(req: CompletionRequest): Promise<CompletionResult>;
}
