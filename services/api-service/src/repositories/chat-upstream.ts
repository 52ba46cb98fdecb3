import { setTimeout as sleep } from 'node:timers/promises';
import { mapSdkError, type CallOrigin, type ProviderBreaker } from '@qv/llm';
import OpenAI from 'openai';
import { CircuitOpenError, outcomeOf, retryDelayMs } from '../domain/upstream-policy';

export type ChatCompletion = OpenAI.Chat.Completions.ChatCompletion;
export type ChatCompletionChunk = OpenAI.Chat.Completions.ChatCompletionChunk;

export interface ChatUpstreamOptions {
  /** Shown in errors and logs: `simulator`, `openai`… */
  name: string;
  /** An OpenAI-compatible API (`http://127.0.0.1:3005/v1` for the simulator); unset: api.openai.com. */
  baseURL?: string;
  apiKey: string;
  timeoutMs: number;
  /** Shared by every call of this process: it guards the provider, not a tenant. */
  breaker: ProviderBreaker;
}

/** What a stream delivered, for settlement: the provider's usage when its last chunk carried it. */
export interface StreamOutcome {
  usage: { promptTokens: number; completionTokens: number } | null;
}

/**
 * The upstream of the chat path: any OpenAI-compatible API through the official SDK, the body
 * passed through as the client sent it (so every OpenAI parameter works), behind the provider's
 * circuit breaker (libs/llm ProviderBreaker: it opens on faults seen across calls of several
 * users, never on one user's failing prompts) and a short retry of the provider's own faults.
 * The SDK's retries are off: a hidden retry would double-spend. Errors are libs/llm's LlmError.
 */
export class ChatUpstream {
  private readonly client: OpenAI;

  constructor(private readonly options: ChatUpstreamOptions) {
    this.client = new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, timeout: options.timeoutMs, maxRetries: 0 });
  }

  /** One unstreamed completion, retried on the provider's faults. */
  complete(origin: CallOrigin, body: Record<string, unknown>): Promise<ChatCompletion> {
    return this.withRetries(origin, async () => {
      try {
        return (await this.client.chat.completions.create({ ...body, stream: false } as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming)) as ChatCompletion;
      } catch (err) {
        throw mapSdkError(err, OpenAI, this.options.name);
      }
    });
  }

  /**
   * One streamed completion: every chunk goes to `onChunk` as it arrives, and the stream is read to
   * its end whatever `onChunk` does with it (a client gone mid-answer is still settled to what the
   * provider produced). Retried only while nothing has been passed on.
   */
  stream(origin: CallOrigin, body: Record<string, unknown>, onChunk: (chunk: ChatCompletionChunk) => void): Promise<StreamOutcome> {
    let delivered = false;
    return this.withRetries(
      origin,
      async () => {
        let usage: StreamOutcome['usage'] = null;
        try {
          const stream = await this.client.chat.completions.create({ ...body, stream: true } as unknown as OpenAI.Chat.ChatCompletionCreateParamsStreaming);
          for await (const chunk of stream) {
            if (chunk.usage) usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens };
            delivered = true;
            onChunk(chunk);
          }
        } catch (err) {
          throw Object.assign(mapSdkError(err, OpenAI, this.options.name), { delivered });
        }
        return { usage };
      },
      () => !delivered,
    );
  }

  private async withRetries<T>(origin: CallOrigin, call: () => Promise<T>, mayRetry: () => boolean = () => true): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const admission = this.options.breaker.admit(origin);
      if (!admission.allowed) throw new CircuitOpenError(admission.retryAfterMs);
      try {
        const result = await call();
        this.options.breaker.record(admission.ticket, 'success');
        return result;
      } catch (err) {
        this.options.breaker.record(admission.ticket, outcomeOf(err));
        const delay = mayRetry() ? retryDelayMs(err, attempt) : null;
        if (delay === null) throw err;
        await sleep(delay);
      }
    }
  }
}
