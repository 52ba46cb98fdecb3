import type Anthropic from '@anthropic-ai/sdk';
import { LlmError } from '../errors';
import { reportedTokens, reportedUsage } from '../reported-usage';
import type { CompletionRequest, CompletionResult, LlmProvider } from '../types';
import { deadline, SDK_TIMEOUT_MARGIN_MS, timeoutError } from './deadline';
import { mapSdkError } from './sdk-errors';

export interface AnthropicOptions {
  apiKey: string;
  model: string;
  timeoutMs: number;
  /** Unset uses the SDK's default (api.anthropic.com). */
  baseURL?: string;
}

/**
 * A provider for Anthropic's Messages API through the official SDK, SDK retries off (the queue
 * retries). System messages become the `system` parameter, as the Messages API requires.
 */
export class AnthropicProvider implements LlmProvider {
  readonly name = 'anthropic';
  readonly model: string;
  private readonly timeoutMs: number;
  private readonly client: Anthropic;
  private readonly sdk: typeof Anthropic;

  constructor(options: AnthropicOptions) {
    this.model = options.model;
    this.timeoutMs = options.timeoutMs;
    // Loaded only when this provider is configured: the SDK holds ~12 MB of every process that imports it.
    this.sdk = (require('@anthropic-ai/sdk') as typeof import('@anthropic-ai/sdk')).default;
    this.client = new this.sdk({ apiKey: options.apiKey, baseURL: options.baseURL, timeout: options.timeoutMs + SDK_TIMEOUT_MARGIN_MS, maxRetries: 0 });
  }

  async complete(req: CompletionRequest): Promise<CompletionResult> {
    const system = req.messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n\n');
    const messages = req.messages
      .filter((m) => m.role !== 'system')
      .map((m) => ({ role: m.role as 'user' | 'assistant', content: m.content }));
    let response: Anthropic.Message;
    const limit = deadline(this.timeoutMs, req.signal);
    try {
      response = await this.client.messages.create(
        { model: req.model ?? this.model, max_tokens: req.maxTokens, messages, ...(system ? { system } : {}) },
        { signal: limit.signal },
      );
    } catch (err) {
      if (limit.timedOut()) throw timeoutError(this.name, this.timeoutMs, err);
      throw mapSdkError(err, this.sdk, this.name);
    } finally {
      limit.clear();
    }
    if (!Array.isArray(response.content)) throw new LlmError('invalid_response', 'anthropic: the answer has no content');
    const text = response.content
      .filter((block): block is Anthropic.TextBlock => block.type === 'text')
      .map((block) => block.text)
      .join('');
    const usage = response.usage;
    // Prompt caching splits the input into fresh, written and read tokens; all of them were sent.
    const input = usage && [usage.input_tokens, usage.cache_creation_input_tokens ?? 0, usage.cache_read_input_tokens ?? 0].map(reportedTokens);
    const counted = input && !input.includes(undefined) && reportedUsage(input.reduce((a = 0, b = 0) => a + b, 0), usage.output_tokens);
    if (!counted) throw new LlmError('invalid_response', 'anthropic: the answer has no token usage');
    return { text, model: response.model || (req.model ?? this.model), ...counted };
  }
}
