import { setTimeout as sleep } from 'node:timers/promises';
import { boundedBody, DEFAULT_MAX_ANSWER_BYTES, LlmError, llmErrorFromStatus, readBounded, readStart, reportedUsage, type CallOrigin, type ProviderBreaker } from '@qv/llm';
import type OpenAI from 'openai';
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import { serverSentData } from '../domain/sse-data';
import { CircuitOpenError, outcomeOf, retryDelayMs } from '../domain/upstream-policy';

export type ChatCompletion = OpenAI.Chat.Completions.ChatCompletion;
export type ChatCompletionChunk = OpenAI.Chat.Completions.ChatCompletionChunk;

export interface ChatUpstreamOptions {
  /** Shown in errors and logs: `simulator`, `openai`… */
  name: string;
  /** An OpenAI-compatible API (`http://127.0.0.1:3005/v1` for the simulator); unset: api.openai.com. */
  baseURL?: string;
  apiKey: string;
  /** Until the answer's headers, and then between two of its chunks. */
  timeoutMs: number;
  /** Shared by every call of this process: it guards the provider, not a tenant. */
  breaker: ProviderBreaker;
  /** Keep-alive sockets to the provider. Default 256. */
  connections?: number;
  /** The most bytes of one answer, a body or a whole stream (LLM_MAX_ANSWER_BYTES); default DEFAULT_MAX_ANSWER_BYTES. */
  maxAnswerBytes?: number;
}

/** A model as `GET /v1/models` lists it (OpenAI's shape). */
export interface ProviderModel {
  id: string;
  created: number;
  owned_by: string;
}

/** The most of a provider's model list read: a bound far above any real list, so a broken one cannot fill memory. */
const MODEL_LIST_BYTES = 4 * 1024 * 1024;

/** How much of an error's body is read for its message. */
const ERROR_BODY_BYTES = 64 * 1024;

/** What a stream delivered, for settlement: the provider's usage when its last chunk carried it. */
export interface StreamOutcome {
  usage: { promptTokens: number; completionTokens: number } | null;
}

/**
 * The upstream of the chat path: any OpenAI-compatible `POST /chat/completions`, the body passed
 * through as the client sent it (so every OpenAI parameter works), behind the provider's circuit
 * breaker (libs/llm ProviderBreaker: it opens on faults seen across calls of several users, never
 * on one user's failing prompts) and a short retry of the provider's own faults; failures are
 * libs/llm's LlmError, classified as the provider adapters classify them.
 *
 * Spoken with undici on keep-alive sockets rather than the openai SDK: the SDK (over fetch and web
 * streams) cost ~1.8 CPU-ms per call here against ~0.35 ms, on the one process every call crosses.
 */
export class ChatUpstream {
  private readonly agent: Agent;
  private readonly url: string;
  private readonly modelsUrl: string;
  private readonly maxAnswerBytes: number;

  constructor(private readonly options: ChatUpstreamOptions) {
    this.agent = new Agent({ connections: options.connections ?? 256, keepAliveTimeout: 10_000 });
    this.maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
    const base = (options.baseURL ?? 'https://api.openai.com/v1').replace(/\/+$/, '');
    this.url = `${base}/chat/completions`;
    this.modelsUrl = `${base}/models`;
  }

  /** One unstreamed completion, retried on the provider's faults. */
  complete(origin: CallOrigin, body: Record<string, unknown>): Promise<ChatCompletion> {
    return this.withRetries(origin, async () => {
      const res = await this.send({ ...body, stream: false });
      try {
        return JSON.parse(await readBounded(res.body, this.maxAnswerBytes, this.options.name)) as ChatCompletion;
      } catch (err) {
        throw this.failure(err);
      }
    });
  }

  /**
   * One streamed completion: every chunk goes to `onChunk` as it arrives, parsed and as the
   * provider sent it (`data`, the event's JSON text, so it can be passed on without encoding it
   * again), and the stream is read to its end whatever `onChunk` does with it (a client gone
   * mid-answer is still settled to what the provider produced). Retried only while nothing has
   * been passed on.
   */
  stream(origin: CallOrigin, body: Record<string, unknown>, onChunk: (chunk: ChatCompletionChunk, data: string) => void): Promise<StreamOutcome> {
    let delivered = false;
    return this.withRetries(
      origin,
      async () => {
        const res = await this.send({ ...body, stream: true });
        let usage: StreamOutcome['usage'] = null;
        try {
          for await (const events of serverSentData(boundedBody(res.body, this.maxAnswerBytes, this.options.name))) {
            for (const data of events) {
              const chunk = JSON.parse(data) as ChatCompletionChunk;
              if (chunk.usage) usage = reportedUsage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens) ?? usage;
              delivered = true;
              onChunk(chunk, data);
            }
          }
        } catch (err) {
          throw this.failure(err);
        }
        return { usage };
      },
      () => !delivered,
    );
  }

  /** The provider's models (`GET /models`), as far as they are models: entries with a string id. Not retried, not behind the breaker: no call is paid for. */
  async models(): Promise<ProviderModel[]> {
    const res = await this.send(null);
    try {
      const list = JSON.parse(await readBounded(res.body, MODEL_LIST_BYTES, this.options.name)) as { data?: unknown };
      return (Array.isArray(list.data) ? list.data : []).flatMap((m: { id?: unknown; created?: unknown; owned_by?: unknown }) =>
        typeof m?.id === 'string' && m.id.length <= 256 ? [{ id: m.id, created: typeof m.created === 'number' ? m.created : 0, owned_by: typeof m.owned_by === 'string' ? m.owned_by : this.options.name }] : [],
      );
    } catch (err) {
      throw this.failure(err);
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  /** POSTs `body` to the chat completions URL, or GETs the model list (`null`). */
  private async send(body: Record<string, unknown> | null): Promise<Dispatcher.ResponseData> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(body ? this.url : this.modelsUrl, {
        method: body ? 'POST' : 'GET',
        dispatcher: this.agent,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.apiKey}`, accept: body?.stream ? 'text/event-stream' : 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      });
    } catch (err) {
      throw this.failure(err);
    }
    if (res.statusCode >= 300) {
      const text = await readStart(res.body, ERROR_BODY_BYTES).catch(() => '');
      throw llmErrorFromStatus(res.statusCode, res.headers, `${this.options.name}: ${errorMessage(text) ?? `status ${res.statusCode}`}`);
    }
    return res;
  }

  /** A transport or parse failure as the provider adapters name it (timeouts and network faults are retryable). */
  private failure(err: unknown): LlmError {
    if (err instanceof LlmError) return err;
    const name = this.options.name;
    if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError) {
      return new LlmError('timeout', `${name}: no answer within ${this.options.timeoutMs} ms`, { cause: err });
    }
    if (err instanceof SyntaxError) return new LlmError('invalid_response', `${name}: unreadable answer: ${err.message}`, { cause: err });
    return new LlmError('network', `${name}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }

  private async withRetries<T>(origin: CallOrigin, call: () => Promise<T>, mayRetry: () => boolean = () => true): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const admission = this.options.breaker.admit(attempt === 1 ? origin : { ...origin, retry: true });
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

/** OpenAI's error message from an error body, when it is one. */
function errorMessage(text: string): string | undefined {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    return typeof message === 'string' ? message.slice(0, 500) : undefined;
  } catch {
    return text ? text.slice(0, 200) : undefined;
  }
}

