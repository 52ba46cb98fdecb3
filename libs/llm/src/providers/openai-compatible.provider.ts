import type OpenAI from 'openai';
import { Agent } from 'undici';
import { LlmError, llmErrorFromStatus } from '../errors';
import { reportedUsage } from '../reported-usage';
import { DEFAULT_MAX_ANSWER_BYTES, readBounded } from './bounded-body';
import type { CompletionRequest, CompletionResult, LlmProvider } from '../types';
import { deadline, timeoutError } from './deadline';

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
  /** Keep-alive sockets to the provider; default an agent of its own. */
  agent?: Agent;
  /** The most bytes of an answer read (LLM_MAX_ANSWER_BYTES); default DEFAULT_MAX_ANSWER_BYTES. */
  maxAnswerBytes?: number;
}

/**
 * A provider for any OpenAI-compatible chat completions API (OpenAI, vLLM, Ollama, llama.cpp, the
 * llm-simulator): one `POST /chat/completions` over undici on keep-alive sockets, its failures
 * classified as every provider's are (llmErrorFromStatus: 429 rate_limited with Retry-After, 5xx
 * server, other 4xx client; no answer in time timeout, no connection network). Spoken without the
 * official SDK, whose request building, logging hooks and response wrapping cost more CPU per call
 * than the HTTP beneath them, on the process every LLM call crosses; the types are still the SDK's.
 * No retries here: the queue retries, with backoff shared by every worker, and a hidden retry
 * would double-spend and skew latencies.
 */
export class OpenAiCompatibleProvider implements LlmProvider {
  readonly name: string;
  readonly model: string;
  private readonly timeoutMs: number;
  private readonly maxTokensField: 'max_tokens' | 'max_completion_tokens';
  private readonly maxAnswerBytes: number;
  private readonly agent: Agent;
  private readonly origin: string;
  private readonly path: string;
  private readonly headers: Record<string, string>;

  constructor(options: OpenAiCompatibleOptions) {
    this.name = options.name ?? 'openai';
    this.model = options.model;
    this.timeoutMs = options.timeoutMs;
    this.maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
    this.maxTokensField = options.maxTokensField ?? 'max_tokens';
    this.agent = options.agent ?? new Agent({ keepAliveTimeout: 30_000 });
    const url = new URL(`${(options.baseURL ?? 'https://api.openai.com/v1').replace(/\/+$/, '')}/chat/completions`);
    this.origin = url.origin;
    this.path = url.pathname + url.search;
    this.headers = { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json', accept: 'application/json' };
  }

  async complete(req: CompletionRequest): Promise<CompletionResult> {
    const body = {
      model: req.model ?? this.model,
      messages: req.messages,
      [this.maxTokensField]: req.maxTokens,
      ...(req.responseFormat === 'json' ? { response_format: { type: 'json_object' as const } } : {}),
    };
    const limit = deadline(this.timeoutMs, req.signal);
    let status: number;
    let raw: string;
    let headers: Record<string, string | string[] | undefined>;
    try {
      const answer = await this.agent.request({ origin: this.origin, path: this.path, method: 'POST', headers: this.headers, body: JSON.stringify(body), signal: limit.signal });
      status = answer.statusCode;
      headers = answer.headers;
      raw = await readBounded(answer.body, this.maxAnswerBytes, this.name);
    } catch (err) {
      if (err instanceof LlmError) throw err; // an answer past maxAnswerBytes
      if (limit.timedOut()) throw timeoutError(this.name, this.timeoutMs, err);
      if (req.signal?.aborted) throw new LlmError('timeout', `${this.name}: request aborted`, { cause: err });
      throw new LlmError('network', `${this.name}: connection failed: ${(err as Error).message}`, { cause: err });
    } finally {
      limit.clear();
    }
    if (status < 200 || status >= 300) throw llmErrorFromStatus(status, headers, `${this.name}: ${status} ${errorMessage(raw)}`);
    let response: OpenAI.Chat.Completions.ChatCompletion;
    try {
      response = JSON.parse(raw) as OpenAI.Chat.Completions.ChatCompletion;
    } catch (err) {
      throw new LlmError('invalid_response', `${this.name}: the answer is not JSON`, { cause: err });
    }
    const text = response.choices?.[0]?.message?.content;
    if (typeof text !== 'string') throw new LlmError('invalid_response', `${this.name}: the answer has no message content`);
    const usage = response.usage && reportedUsage(response.usage.prompt_tokens, response.usage.completion_tokens);
    // Without usage (or with counts that are none) the exact settlement is impossible; another attempt is the only remedy.
    if (!usage) throw new LlmError('invalid_response', `${this.name}: the answer has no token usage`);
    return { text, model: response.model || (req.model ?? this.model), ...usage };
  }
}

/** The provider's own error message (OpenAI's `{error: {message}}`), bounded, or the start of its body. */
function errorMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === 'string') return message.slice(0, 500);
  } catch {
    // not JSON: the text itself
  }
  return text.slice(0, 200);
}
