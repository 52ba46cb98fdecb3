import OpenAI from 'openai';
import { LlmError } from '../errors';
import type { CompletionRequest, CompletionResult, LlmProvider } from '../types';
import { deadline, SDK_TIMEOUT_MARGIN_MS, timeoutError } from './deadline';
import { pooledFetch, type SdkFetch } from './pooled-fetch';
import { mapSdkError } from './sdk-errors';

export interface OpenAiCompatibleOptions {
  /** Shown in logs and metrics: `openai`, `simulator`, `vllm`… */
  name?: string;
  /** E.g. `http://127.0.0.1:3005/v1`; unset uses the SDK's default (api.openai.com). */
  baseURL?: string;
  apiKey: string;
  model: string;
  timeoutMs: number;
  /**
   * Which body field carries the completion cap. OpenAI's own API wants `max_completion_tokens`
   * (its reasoning models refuse `max_tokens`); most compatible servers only know `max_tokens`.
   * Default `max_tokens`.
   */
  maxTokensField?: 'max_tokens' | 'max_completion_tokens';
  /** The SDK's HTTP; default `pooledFetch()` (undici keep-alive, far less CPU per call than the global fetch). */
  fetch?: SdkFetch;
}

/**
 * A provider for any OpenAI-compatible chat completions API (OpenAI, vLLM, Ollama, llama.cpp, the
 * llm-simulator) through the official SDK. The SDK's own retries are off: the queue retries, with
 * backoff shared by every worker, and a hidden retry here would double-spend and skew latencies.
 */
export class OpenAiCompatibleProvider implements LlmProvider {
  readonly name: string;
  readonly model: string;
  private readonly timeoutMs: number;
  private readonly client: OpenAI;
  private readonly maxTokensField: 'max_tokens' | 'max_completion_tokens';

  constructor(options: OpenAiCompatibleOptions) {
    this.name = options.name ?? 'openai';
    this.model = options.model;
    this.timeoutMs = options.timeoutMs;
    this.maxTokensField = options.maxTokensField ?? 'max_tokens';
    this.client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      timeout: options.timeoutMs + SDK_TIMEOUT_MARGIN_MS,
      maxRetries: 0,
      fetch: options.fetch ?? pooledFetch(),
    });
  }

  async complete(req: CompletionRequest): Promise<CompletionResult> {
    let response: OpenAI.Chat.Completions.ChatCompletion;
    const limit = deadline(this.timeoutMs, req.signal);
    try {
      response = await this.client.chat.completions.create(
        {
          model: req.model ?? this.model,
          messages: req.messages,
          [this.maxTokensField]: req.maxTokens,
          ...(req.responseFormat === 'json' ? { response_format: { type: 'json_object' as const } } : {}),
        },
        { signal: limit.signal },
      );
    } catch (err) {
      if (limit.timedOut()) throw timeoutError(this.name, this.timeoutMs, err);
      throw mapSdkError(err, OpenAI, this.name);
    }
    const text = response.choices?.[0]?.message?.content;
    if (typeof text !== 'string') throw new LlmError('invalid_response', `${this.name}: the answer has no message content`);
    const usage = response.usage;
    if (!usage || !Number.isInteger(usage.prompt_tokens) || !Number.isInteger(usage.completion_tokens)) {
      // Without usage the exact settlement is impossible; another attempt is the only remedy.
      throw new LlmError('invalid_response', `${this.name}: the answer has no token usage`);
    }
    return { text, model: response.model || (req.model ?? this.model), promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens };
  }
}
