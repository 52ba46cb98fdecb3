import { singleFlight, singleFlightMany, type SingleFlightCache, type SingleFlightItem } from '@qv/cache-client';
import { EnrichmentJob, type CacheTier, type Enrichment, type TaskName, type UsageCompleted } from '@qv/contracts';
import { costUsd, estimateTokens, TASKS, type LlmProvider, type TaskInput } from '@qv/llm';
import { withSpan, type Counter } from '@qv/telemetry';
import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { ProviderGuard } from '../domain/provider-guard';
import type { ItemsRepository } from '../repositories/items.repository';
import type { UsageEventSink } from '@qv/queue';
import { completedEventId } from '../repositories/usage-event-ids';

export interface EnrichDeps {
  items: ItemsRepository;
  provider: LlmProvider;
  /** Wraps every provider call (the circuit breaker), told which item and user it is for. */
  guard: ProviderGuard;
  /** The cache run in this process (LocalSingleFlightCache), or cache-service's client. */
  cache: SingleFlightCache;
  cacheWaitMs: number;
  /** Where the item's usage event goes (InlineSettlement in the service: applied here, else queued). */
  usage: UsageEventSink;
  logger: Logger;
  metrics: { llmCalls: Counter<string>; cacheUnavailable: Counter<string>; cacheHits: Counter<string> };
}

/** Which cache tier keeps a task's answer (DESIGN.md §6): facts are intermediate, the rest final. */
const TIER_OF: Record<TaskName, Exclude<CacheTier, 'system'>> = { summarize: 'content', tag: 'content', extract: 'session' };

interface Usage {
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  tokensSaved: number;
  costSavedUsd: number;
  hitTiers: Set<CacheTier>;
  model: string;
  /** Tasks the provider answered usably for this job, in this attempt or an earlier one (`job.spent`). */
  answered: TaskName[];
  /** Their answers, parsed: an attempt that fails passes them on, so no task is asked (and paid for) twice. */
  outputs: Partial<Record<TaskName, unknown>>;
}

type Spent = NonNullable<EnrichmentJob['spent']>;
const SPENT = Symbol('qv.spent');

/** What the failed attempt behind `err` (and the attempts before it) paid the provider for; none when nothing was answered. */
export function spentOf(err: unknown): Spent | undefined {
  return typeof err === 'object' && err !== null ? (err as { [SPENT]?: Spent })[SPENT] : undefined;
}

/** The error itself, carrying the attempt's spend (not wrapped: the retry decision reads its class). */
function withSpent(err: unknown, usage: Usage): unknown {
  if (usage.promptTokens + usage.completionTokens === 0 || typeof err !== 'object' || err === null) return err;
  const spent: Spent = { model: usage.model, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, costUsd: usage.costUsd, tasks: usage.answered, outputs: usage.outputs as Spent['outputs'] };
  Object.defineProperty(err, SPENT, { value: spent, enumerable: false });
  return err;
}

/**
 * One enrichment job: every task from the cache when it safely can be, else the LLM; the result
 * stored on the item once; then `usage.completed` with the actual tokens. Idempotent: a retry
 * after a crash finds the item DONE and only re-emits the (same-id) event.
 */
export function enrich(deps: EnrichDeps, jobId: string, data: unknown, attempt: { retry: boolean } = { retry: false }): Promise<void> {
  return withSpan('Enrichment.process', async (span) => {
    const job = EnrichmentJob.parse(data);
    span.setAttribute('item.id', job.itemId);
    const item = await deps.items.claim(job.itemId);
    if (!item) throw new UnrecoverableError(`item ${job.itemId} does not exist`);

    if (item.status === 'DONE' && item.enrichment) {
      // Completed by an earlier attempt that crashed before (or while) emitting: emit again, same id.
      const done = item.enrichment as Enrichment;
      await deps.usage.publish(completedEvent(job, jobId, { promptTokens: done.promptTokens, completionTokens: done.completionTokens, costUsd: costUsd(done.model, done.promptTokens, done.completionTokens), tokensSaved: 0, costSavedUsd: 0, hitTiers: new Set(), model: done.model, answered: [], outputs: {} }));
      return;
    }

    const ttls = await deps.items.cacheTtls(job.userId);
    const input: TaskInput = { content: item.content, title: item.title };
    // An earlier attempt's answered tasks were paid for: they are billed with this one, and
    // finding them in the cache now saves nothing.
    const carried = job.spent;
    const reused = reusableOutputs(carried);
    const usage: Usage = {
      promptTokens: carried?.promptTokens ?? 0,
      completionTokens: carried?.completionTokens ?? 0,
      costUsd: carried?.costUsd ?? 0,
      tokensSaved: 0,
      costSavedUsd: 0,
      hitTiers: new Set(),
      model: carried?.model ?? deps.provider.model,
      answered: [...(carried?.tasks ?? [])],
      outputs: { ...reused },
    };
    const outputs: Partial<Record<TaskName, unknown>> = { ...reused };
    // What an earlier attempt got answered is used as it is: neither asked of the cache nor of the provider.
    const asked = job.tasks.filter((task) => !(task in reused));
    const room = reservationRoom(job, input, usage);

    try {
      const items = asked.map((task) => {
        const tier = TIER_OF[task];
        return cachedTask(deps, job, attempt.retry, task, tier === 'session' ? ttls.sessionTtlSeconds : ttls.contentTtlSeconds, input, usage, room);
      });
      const results = items.length === 0 ? [] : await singleFlightMany(deps.cache, items, {
        waitMs: deps.cacheWaitMs,
        onCacheError: (err, operation) => {
          deps.metrics.cacheUnavailable.inc({ operation });
          deps.logger.warn({ err: (err as Error).message, operation }, 'cache unavailable; carrying on without it (fail open)');
        },
      });
      asked.forEach((task, i) => {
        const tier = TIER_OF[task];
        const result = results[i];
        outputs[task] = result.value;
        if (result.hit && !carried?.tasks.includes(task)) {
          usage.tokensSaved += result.tokens;
          usage.costSavedUsd += result.costUsd ?? 0;
          usage.hitTiers.add(tier);
          deps.metrics.cacheHits.inc({ tier });
        }
      });
    } catch (err) {
      throw withSpent(err, usage);
    }

    const allHit = usage.hitTiers.size > 0 && usage.promptTokens === 0 && usage.completionTokens === 0;
    const enrichment: Enrichment = {
      ...(outputs.summarize ? { summary: (outputs.summarize as { summary: string }).summary } : {}),
      ...(outputs.tag ? { tags: (outputs.tag as { tags: string[] }).tags } : {}),
      ...(outputs.extract ? { extract: (outputs.extract as { facts: Record<string, unknown> }).facts } : {}),
      model: usage.model,
      cached: allHit,
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
    };
    await deps.items.complete(job.itemId, enrichment);
    await deps.usage.publish(completedEvent(job, jobId, usage));
  });
}

/**
 * Throws (for good) when the provider call for `task` could take the item past what it was charged.
 * The charge reserved the estimate of one call per task (the exact prompt and the task's cap), so
 * a first attempt always fits. An attempt after a paid failure (an answer cut at its cap, that did
 * not parse) would pay for that task again: the call is made only if its worst case fits in what
 * the estimate has left after everything paid so far (`usage`, the earlier attempts included), so
 * the settled tokens never pass the charge, nor the user's token limits. An item refused here
 * fails (dead letter, usage.failed billing what was paid); an operator's replay with a charge
 * takes a new reservation. Uncharged jobs (a replay that charges nothing) are not bounded by one.
 */
function reservationRoom(job: EnrichmentJob, input: TaskInput, usage: Usage): (task: TaskName) => void {
  if (!job.charged || !job.reservationId || !job.spent) return () => undefined;
  let estimate: number | undefined;
  return (task) => {
    estimate ??= estimateTokens(input, job.tasks);
    const worstCase = estimateTokens(input, [task]);
    const paid = usage.promptTokens + usage.completionTokens;
    if (paid + worstCase > estimate) {
      throw new UnrecoverableError(`no room left in the item's reservation for another ${task} call: ${paid} of its ${estimate} tokens are paid for (an earlier answer that did not parse), and the call may take ${worstCase}`);
    }
  };
}

/**
 * The answers an earlier attempt passed on (`job.spent.outputs`) that still read as their task's
 * output; one that does not (a job written by another version) is asked again.
 */
function reusableOutputs(spent: EnrichmentJob['spent']): Partial<Record<TaskName, unknown>> {
  const reused: Partial<Record<TaskName, unknown>> = {};
  for (const [task, value] of Object.entries(spent?.outputs ?? {}) as Array<[TaskName, unknown]>) {
    if (!spent!.tasks.includes(task)) continue;
    try {
      reused[task] = TASKS[task].parse(JSON.stringify(value));
    } catch {
      // asked again
    }
  }
  return reused;
}

/**
 * One task as a single-flight item of its cache tier (all of a job's tasks share one lookup and
 * one put across workers); with no TTL on the plan the cache is not asked and it goes straight to
 * the LLM. Its computation is one guarded provider call, paid into `usage` once answered.
 */
function cachedTask(deps: EnrichDeps, job: EnrichmentJob, retry: boolean, task: TaskName, ttl: number | null, input: TaskInput, usage: Usage, room: (task: TaskName) => void): SingleFlightItem<unknown> {
  const definition = TASKS[task];
  const key = { tier: TIER_OF[task], scope: job.userId, task, model: deps.provider.model, promptVersion: definition.promptVersion, input: `${input.title ?? ''}\n${input.content}` };
  return {
    key,
    ttlSeconds: ttl,
    parse: (value) => definition.parse(JSON.stringify(value)),
    compute: async () => {
      room(task);
      const messages = definition.buildMessages(input);
      messages[0] = { role: 'system', content: await systemPrompt(deps, task) };
      deps.metrics.llmCalls.inc({ task });
      const result = await deps.guard({ itemId: job.itemId, userId: job.userId, retry }, () => deps.provider.complete({ messages, maxTokens: definition.completionCap, responseFormat: 'json' }));
      // Paid for once answered, even when the answer does not parse (the attempt then fails with it).
      const cost = costUsd(result.model, result.promptTokens, result.completionTokens);
      usage.promptTokens += result.promptTokens;
      usage.completionTokens += result.completionTokens;
      usage.costUsd += cost;
      usage.model = result.model;
      const value = definition.parse(result.text);
      usage.answered.push(task);
      usage.outputs[task] = value;
      return { value, tokens: result.promptTokens + result.completionTokens, model: result.model, costUsd: cost };
    },
  };
}

const SYSTEM_PROMPT_MEMO_MS = 60_000;
const systemPromptMemo = new Map<string, { prompt: string; until: number }>();

/**
 * A task's system prompt, from the cache's system tier (shared, permanent, kept in PostgreSQL):
 * the first worker to need a prompt version stores the registry's text there; operators can see
 * and warm it like any system entry. Keyed by prompt version, so an entry never serves another
 * version. Memoised for a minute per process to spare a round trip per task. Fail open: without
 * the cache the registry's own text is used — the same text, so the quota estimate stays exact.
 */
async function systemPrompt(deps: EnrichDeps, task: TaskName): Promise<string> {
  const definition = TASKS[task];
  const memo = systemPromptMemo.get(definition.promptVersion);
  if (memo && memo.until > Date.now()) return memo.prompt;
  const result = await singleFlight(
    deps.cache,
    { tier: 'system', scope: 'global', task, model: '*', promptVersion: definition.promptVersion, input: 'system-prompt' },
    null,
    async () => ({ value: definition.systemPrompt, tokens: 0, model: '*' }),
    { parse: (value) => z.string().min(1).parse(value), onCacheError: () => deps.metrics.cacheUnavailable.inc({ operation: 'system-prompt' }) },
  );
  systemPromptMemo.set(definition.promptVersion, { prompt: result.value, until: Date.now() + SYSTEM_PROMPT_MEMO_MS });
  return result.value;
}

function completedEvent(job: EnrichmentJob, jobId: string, usage: Usage): UsageCompleted {
  const hit = usage.hitTiers.size > 0;
  return {
    v: 1,
    type: 'usage.completed',
    eventId: completedEventId(jobId),
    userId: job.userId,
    itemId: job.itemId,
    reservationId: job.reservationId,
    idempotencyKey: completedEventId(jobId),
    charged: job.charged,
    occurredAt: new Date().toISOString(),
    model: usage.model,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    costUsd: usage.costUsd,
    cache: { tier: usage.hitTiers.has('content') ? 'content' : usage.hitTiers.has('session') ? 'session' : null, hit, tokensSaved: usage.tokensSaved, costSavedUsd: usage.costSavedUsd },
  };
}
