import { AppError, StoredChatCompletion, type CacheKeyParts, type StoredToolCall, type ChargeResponse, type ChatCacheTier, type ChatCompletionRequest, type QuotaStatus, type UsageEvent } from '@qv/contracts';
import type { KeyedGate } from '@qv/http';
import { costUsd, reportedUsage } from '@qv/llm';
import { withSpan } from '@qv/telemetry';
import type { Logger } from 'pino';
import { capCompletion, DEFAULT_COMPLETION_CAP, type CompletionCap } from '../domain/chat-budget';
import { passedOnEvent, replayEvents, SSE_DONE, sseEvent } from '../domain/chat-format';
import { chatCacheKey, estimatePromptTokens, requestedCap, upstreamBody, type PromptBounds } from '../domain/chat-request';
import { openAiError } from '../domain/openai-errors';
import { quotaHeaders } from '../domain/quota-headers';
import { answerTokens, storedToolCalls, ToolCallDeltas } from '../domain/tool-calls';
import { upstreamFailure } from '../domain/upstream-policy';
import type { Principal } from '../repositories/auth.repository';
import type { ChatCache } from '../repositories/chat-cache';
import type { CacheTtlsRepository } from '../repositories/cache-ttls.repository';
import type { ChatCompletion, ChatCompletionChunk, ChatUpstream } from '../repositories/chat-upstream';
import type { QuotaClient } from '../repositories/quota.client';
import type { UsageEventSink } from '@qv/queue';

export interface ChatCompletionDeps {
  quota: QuotaClient;
  upstream: ChatUpstream;
  usage: UsageEventSink;
  /** The cache tiers; absent, no call is ever cached. */
  cache?: ChatCache;
  cacheTtls: CacheTtlsRepository;
  /** The model asked for when the body names none. */
  defaultModel: string;
  /** One user's charges at a time on this replica (the answers themselves run freely). */
  admission: KeyedGate;
  /** What the prompt's estimate counts for what it cannot read (images). */
  promptBounds: PromptBounds;
  logger: Logger;
}

/**
 * Where a streamed call's events go: `start` once charged (headers), then each event, in order, and
 * `end` with the last one (`[DONE]`, or the error of a broken stream) once the call is settled: the
 * stream ends only when the quota reads what the call cost, as an unstreamed answer does.
 */
export interface EventSink {
  /** `promptTokens`: what the call's prompt was charged (0 for a cache hit); the provider's own count comes with the usage. */
  start(headers: Record<string, string>, promptTokens: number): void;
  send(event: string): void;
  end(lastEvent: string): void;
}

export interface ChatCallOptions {
  /** The call's id (`chc_…`): the charge's item id, its reservation's key, its events' ids. */
  callId: string;
  /** The tier the call opted into (`X-QV-Cache`) and a TTL below the plan's (`X-QV-Cache-TTL`). */
  cache?: { tier: ChatCacheTier; ttlSeconds?: number };
  /** Set for `stream: true`. */
  sink?: EventSink;
}

export interface ChatCallResult {
  /** 200, or 502 when a stream broke after its first chunk (settled to what was produced). */
  status: number;
  completion: StoredChatCompletion;
  headers: Record<string, string>;
  /**
   * An unstreamed answer as the provider sent it, every field it has (`logprobs`,
   * `system_fingerprint`, usage details…), its usage the one settled: what a client of the
   * provider's own API would get. Absent for a cache hit.
   */
  providerAnswer?: ChatCompletion;
}

/**
 * One OpenAI-compatible call, charged and settled as an item is (DESIGN.md §3–§6):
 * 1. the prompt's bounded estimate; one atomic charge of prompt + cap under the call's id, the cap
 *    clamped to the token budgets left after the prompt (chargeWithinBudget; a refusal is the 429 it is);
 * 2. the opted-in cache tier, in the user's own scope, where the plan has a TTL (a hit costs no
 *    tokens and is settled to 0);
 * 3. the provider (breaker and retries in ChatUpstream), streamed through as it arrives;
 * 4. a usage event with the provider's reported usage (or, when a stream broke, the tokens it
 *    produced), applied once (InlineSettlement: here, else by ledger-consumer): the ledger entry and
 *    the settlement together, before the answer ends; then the cache fill, which it does not wait
 *    for. A call that got no answer publishes usage.failed, which releases its reservation.
 */
export function completeChat(deps: ChatCompletionDeps, principal: Principal, body: ChatCompletionRequest, options: ChatCallOptions): Promise<ChatCallResult> {
  return withSpan('Chat.complete', async (span) => {
    const { callId, sink } = options;
    const userId = principal.userId;
    const model = body.model ?? deps.defaultModel;
    const promptTokens = await estimatePromptTokens(body, deps.promptBounds);

    const cacheTtl = await ttlFor(deps, userId, options.cache);
    const keyFor = (maxTokens: number) => (cacheTtl !== null && options.cache ? chatCacheKey(options.cache.tier, userId, model, upstreamBody(body, model, maxTokens)) : null);
    const read = (key: CacheKeyParts) =>
      deps.cache!.get(key).catch((err: unknown) => {
        deps.logger.warn({ err, callId }, 'chat cache read failed: answering without it'); // fail open: the call is paid for
        return null;
      });
    // The look-up runs beside the charge, so it costs no round trip of its own; nothing it finds is
    // served unless the charge succeeds (and a clamped cap is another question: looked up again).
    const asked = requestedCap(body) ?? DEFAULT_COMPLETION_CAP;
    const early = keyFor(asked);
    const earlyRead = early ? read(early) : null;

    const { charge, cap } = await deps.admission.run(userId, () => chargeWithinBudget(deps.quota, userId, callId, promptTokens, asked));
    if (charge.replayed) {
      // An earlier copy of this request (same Idempotency-Key) was charged and may still be answering.
      throw new AppError('IDEMPOTENCY_KEY_IN_USE', 'A request with this Idempotency-Key is still being answered; retry shortly', { retryAfterSeconds: 1 });
    }
    span.setAttribute('chat.call_id', callId);
    const headers: Record<string, string> = {
      ...quotaHeaders(charge.status),
      'X-QV-Call-Id': callId,
      'X-QV-Reservation-Id': charge.reservation.id,
      'X-QV-Max-Tokens': String(cap.maxTokens),
      ...(cap.clamped ? { 'X-QV-Max-Tokens-Clamped': String(cap.maxTokens) } : {}),
    };
    const settle = settler(deps, principal, callId, charge.reservation.id);
    const sent = upstreamBody(body, model, cap.maxTokens);

    const key = cap.clamped ? keyFor(cap.maxTokens) : early;
    if (key) {
      const hit = await (key === early ? earlyRead : read(key));
      const cached = hit?.hit ? StoredChatCompletion.safeParse(hit.entry?.value) : null;
      if (cached?.success) {
        const saved = cached.data.promptTokens + cached.data.completionTokens;
        await settle.completed(model, 0, 0, { tier: options.cache!.tier, hit: true, tokensSaved: saved, costSavedUsd: hit?.entry?.costUsd ?? costUsd(model, cached.data.promptTokens, cached.data.completionTokens) });
        const completion = { ...cached.data, id: `chatcmpl-${callId}`, created: Math.floor(Date.now() / 1000), promptTokens: 0, completionTokens: 0 };
        const hitHeaders = { ...headers, 'X-QV-Cache': 'hit', 'X-QV-Cache-Tokens-Saved': String(saved) };
        if (sink) {
          const events = replayEvents(completion, body.stream_options?.include_usage === true);
          sink.start(hitHeaders, 0);
          for (const event of events.slice(0, -1)) sink.send(event);
          sink.end(events[events.length - 1]);
        }
        return { status: 200, completion, headers: hitHeaders };
      }
    }
    headers['X-QV-Cache'] = key ? 'miss' : 'off';

    const origin = { itemId: callId, userId };
    let result: ChatCallResult & { lastEvent?: string };
    try {
      const bound = { promptTokens, maxTokens: cap.maxTokens };
      result = sink ? await streamed(deps, origin, sent, body, bound, headers, sink, model) : await unstreamed(deps, origin, sent, bound, headers, model);
    } catch (err) {
      await settle.failed(err instanceof Error ? err.message : String(err));
      throw upstreamFailure(err);
    }
    // The answer waits for the settlement (the quota must read what the call cost), not for the cache
    // fill: a fill only saves a later call money, and this replica's reads of the key wait for it
    // (ChatCache.put).
    const { completion } = result;
    if (key && result.status === 200) {
      void deps.cache!.put(key, { value: completion, tokens: completion.promptTokens + completion.completionTokens, model: completion.model, costUsd: costUsd(completion.model, completion.promptTokens, completion.completionTokens) }, cacheTtl)
        .catch((err: unknown) => deps.logger.warn({ err, callId }, 'chat cache write failed'));
    }
    await settle.completed(completion.model, completion.promptTokens, completion.completionTokens, null);
    if (sink && result.lastEvent !== undefined) sink.end(result.lastEvent);
    return { status: result.status, completion, headers: result.headers, ...(result.providerAnswer ? { providerAnswer: result.providerAnswer } : {}) };
  });
}

/**
 * One charge of prompt + the cap asked for (the common case: one call to quota-service). Refused
 * for tokens, the refusal's own status says what the budgets have left: the cap is clamped to it
 * and charged once more (a refusal writes nothing, so the key is still unused); nothing left for
 * an answer is the refusal it was.
 */
async function chargeWithinBudget(quota: QuotaClient, userId: string, callId: string, promptTokens: number, asked: number): Promise<{ charge: ChargeResponse; cap: CompletionCap }> {
  const charge = (maxTokens: number) => quota.charge({ v: 1, userId, itemId: callId, idempotencyKey: `chat:${callId}`, estimatedTokens: promptTokens + maxTokens });
  try {
    return { charge: await charge(asked), cap: { maxTokens: asked, clamped: false } };
  } catch (err) {
    const status = err instanceof AppError && (err.code === 'DAILY_TOKEN_QUOTA_EXCEEDED' || err.code === 'MONTHLY_TOKEN_QUOTA_EXCEEDED') ? (err.details as QuotaStatus | undefined) : undefined;
    if (!status?.quotas) throw err;
    const cap = capCompletion(status, promptTokens, asked);
    if (!cap.clamped) throw err; // room for the whole cap by the status, refused all the same: a race, and its refusal stands
    return { charge: await charge(cap.maxTokens), cap };
  }
}

/**
 * What a call settles to when the provider reported no usage: the prompt's estimate and the
 * answer's bounded count, never more than the cap the provider was sent (an answer past it is the
 * provider's fault, and what was charged is the most owed).
 */
interface FallbackBound {
  promptTokens: number;
  maxTokens: number;
}
const fallbackUsage = (bound: FallbackBound, content: string, toolCalls: StoredToolCall[]) => ({ promptTokens: bound.promptTokens, completionTokens: Math.min(bound.maxTokens, answerTokens(content, toolCalls)) });

/** The provider's answer as a completion; its usage is what the call settles to. */
async function unstreamed(deps: ChatCompletionDeps, origin: { itemId: string; userId: string }, sent: Record<string, unknown>, bound: FallbackBound, headers: Record<string, string>, model: string): Promise<ChatCallResult> {
  const answer = await deps.upstream.complete(origin, sent);
  const choice = answer.choices?.[0];
  const content = choice?.message?.content ?? '';
  const toolCalls = storedToolCalls(choice?.message?.tool_calls);
  // Without the provider's usage (or with counts that are none), the bounded counts stand in: an upper bound, never a free answer.
  const reported = answer.usage && reportedUsage(answer.usage.prompt_tokens, answer.usage.completion_tokens);
  const usage = reported || fallbackUsage(bound, content, toolCalls);
  const completion: StoredChatCompletion = {
    id: answer.id,
    model: answer.model || model,
    created: answer.created,
    content,
    ...(toolCalls.length ? { toolCalls } : {}),
    finishReason: choice?.finish_reason ?? null,
    ...usage,
  };
  const settledUsage = { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.promptTokens + usage.completionTokens };
  return { status: 200, completion, headers, providerAnswer: reported ? answer : { ...answer, usage: settledUsage } };
}

/**
 * The provider's stream passed through; the completion it assembles (with the provider's usage, or
 * the tokens produced when the stream broke) is what the call settles to, after `[DONE]`.
 */
async function streamed(
  deps: ChatCompletionDeps,
  origin: { itemId: string; userId: string },
  sent: Record<string, unknown>,
  body: ChatCompletionRequest,
  bound: FallbackBound,
  headers: Record<string, string>,
  sink: EventSink,
  model: string,
): Promise<ChatCallResult & { lastEvent: string }> {
  const clientWantsUsage = body.stream_options?.include_usage === true;
  const parts: string[] = [];
  const calls = new ToolCallDeltas();
  const seen = { id: '', model, created: Math.floor(Date.now() / 1000), finishReason: null as string | null, started: false };
  const onChunk = (chunk: ChatCompletionChunk, data: string) => {
    if (!seen.started) {
      seen.started = true;
      sink.start(headers, bound.promptTokens);
    }
    seen.id ||= chunk.id;
    seen.model = chunk.model || seen.model;
    seen.created = chunk.created ?? seen.created;
    const choice = chunk.choices?.[0];
    if (choice?.delta?.content) parts.push(choice.delta.content);
    if (choice?.delta?.tool_calls) calls.add(choice.delta.tool_calls);
    if (choice?.finish_reason) seen.finishReason = choice.finish_reason;
    if (chunk.usage && !clientWantsUsage) {
      // Asked upstream for settlement only: the client did not ask to see it.
      if (!chunk.choices?.length) return;
      const { usage: _usage, ...rest } = chunk;
      return sink.send(sseEvent(rest));
    }
    sink.send(passedOnEvent(chunk, data));
  };

  let usage: { promptTokens: number; completionTokens: number } | null = null;
  let broken: unknown = null;
  try {
    usage = (await deps.upstream.stream(origin, sent, onChunk)).usage;
  } catch (err) {
    if (!seen.started) throw err;
    broken = err; // mid-answer: the tokens already produced are owed all the same
  }
  const content = parts.join('');
  const toolCalls = calls.assembled();
  const settled = usage ?? fallbackUsage(bound, content, toolCalls);
  const completion: StoredChatCompletion = { id: seen.id, model: seen.model, created: seen.created, content, ...(toolCalls.length ? { toolCalls } : {}), finishReason: seen.finishReason, ...settled };
  if (broken) {
    const failure = openAiError(upstreamFailure(broken));
    return { status: 502, completion, headers, lastEvent: sseEvent(failure.body) };
  }
  return { status: 200, completion, headers, lastEvent: SSE_DONE };
}

async function ttlFor(deps: ChatCompletionDeps, userId: string, cache: ChatCallOptions['cache']): Promise<number | null> {
  if (!cache || !deps.cache) return null;
  const planTtl = (await deps.cacheTtls.of(userId))[cache.tier];
  if (planTtl === null) return null; // free and payg: no cache at all, not even a look-up
  return Math.min(planTtl, cache.ttlSeconds ?? planTtl);
}

interface Settler {
  completed(model: string, promptTokens: number, completionTokens: number, cache: { tier: ChatCacheTier; hit: true; tokensSaved: number; costSavedUsd: number } | null): Promise<void>;
  failed(reason: string): Promise<void>;
}

/**
 * The call's usage event, as the worker publishes an item's: ids derived from the call id, so a
 * repeat is a no-op on the queue and in the ledger. A publish that fails (Redis down) leaves the
 * reservation to the sweeper; the answer already given is not taken back.
 */
function settler(deps: ChatCompletionDeps, principal: Principal, callId: string, reservationId: string): Settler {
  const base = { v: 1 as const, userId: principal.userId, itemId: callId, reservationId, idempotencyKey: `chat:${callId}`, charged: true };
  const publish = (event: UsageEvent) =>
    deps.usage.publish(event).catch((err: unknown) => deps.logger.error({ err, callId, eventId: event.eventId }, 'chat usage event not published: the sweeper will finish the reservation'));
  return {
    completed: (model, promptTokens, completionTokens, cache) =>
      publish({
        ...base,
        type: 'usage.completed',
        eventId: `evt_${callId}_completed`,
        occurredAt: new Date().toISOString(),
        model,
        promptTokens,
        completionTokens,
        costUsd: costUsd(model, promptTokens, completionTokens),
        cache: cache ?? { tier: null, hit: false, tokensSaved: 0, costSavedUsd: 0 },
      }),
    failed: (reason) => publish({ ...base, type: 'usage.failed', eventId: `evt_${callId}_failed`, occurredAt: new Date().toISOString(), reason: reason.slice(0, 500) }),
  };
}
