import { randomUUID } from 'node:crypto';
import { LocalSingleFlightCache } from '@qv/cache';
import { QUEUE_NAMES, type EnrichmentJob, type TaskName, type UsageCompleted } from '@qv/contracts';
import { breakerPolicy, costUsd, countChatTokensBounded, createProvider, estimateTokens, LlmError, TASKS, type LlmProvider, type TaskInput } from '@qv/llm';
import { createFastRedis, createQueue, createRedis, UsageEventsPublisher, type Redis } from '@qv/queue';
import { Counter, createLogger, createMetricsRegistry, Registry } from '@qv/telemetry';
import { createTestDatabase, startService, testRedisPrefix, testRedisUrl, testServiceCredentials, type ServiceProcess, type TestDatabase } from '@qv/testing';
import { UnrecoverableError, type Queue } from 'bullmq';
import { loadConfig } from '../config';
import { createProviderGuard } from '../domain/provider-guard';
import { decideRetry } from '../domain/retry-decision';
import { ItemsRepository } from '../repositories/items.repository';
import { completedEventId } from '../repositories/usage-event-ids';
import { enrich, spentOf, type EnrichDeps } from './enrich.handler';

/**
 * `enrich()` in this process against the real PostgreSQL (a database of this file's own), Redis
 * (a prefix of its own) and llm-simulator (as a process), the cache in this process as the worker
 * runs it: what one job stores
 * on its item, the usage event it emits, what the cache spares, how provider failures surface and
 * what running a job again does.
 */

let db: TestDatabase;
let prefix: string;
let redis: Redis;
let usageQueue: Queue;
let sim: ServiceProcess;
let cacheConnections: Redis[];
let cache: LocalSingleFlightCache;
let provider: LlmProvider;
let deps: EnrichDeps;
const credentials = testServiceCredentials();

/** Plans seeded by createTestDatabase: pro_monthly has content and session TTLs, free has none (no cache). */
const PRO = 'usr_pro';
const PRO_OTHER = 'usr_pro_other';
const FREE = 'usr_free';

beforeAll(async () => {
  db = await createTestDatabase();
  prefix = testRedisPrefix();
  sim = await startService('llm-simulator', { ...credentials.envOf('llm-simulator') });
  redis = createRedis(testRedisUrl());
  usageQueue = createQueue(QUEUE_NAMES.usageEvents, redis, prefix);
  cacheConnections = [createFastRedis(testRedisUrl(), { enableAutoPipelining: true }), createFastRedis(testRedisUrl(), { commandTimeout: undefined })];
  const [cacheRedis, subscriber] = cacheConnections;
  cache = await LocalSingleFlightCache.start({ redis: cacheRedis, subscriber, db: db.sql, prefix, registry: createMetricsRegistry('enrichment-worker-test'), logger: createLogger('enrichment-worker-test', 'silent') }, { timeoutMs: 5000, maxWaitMs: 5000, leaseMs: 30_000 });
  provider = createProvider({ provider: 'simulator', baseUrl: `${sim.url}/v1`, timeoutMs: 10_000 });
  const registry = new Registry();
  const logger = createLogger('enrichment-worker-test', 'silent');
  deps = {
    items: new ItemsRepository(db.sql),
    provider,
    // The production breaker with the worker's default policy: a handful of failing items from
    // one file's tests stays far below what opens it.
    guard: createProviderGuard({
      policy: breakerPolicy(loadConfig({}), 10_000),
      logger,
    }),
    cache,
    cacheWaitMs: 5000,
    usage: new UsageEventsPublisher(usageQueue),
    logger,
    metrics: {
      llmCalls: new Counter({ name: 'llm_calls_total', help: 'test', labelNames: ['task'], registers: [registry] }),
      cacheHits: new Counter({ name: 'enrichment_cache_hits_total', help: 'test', labelNames: ['tier'], registers: [registry] }),
      cacheUnavailable: new Counter({ name: 'enrichment_cache_unavailable_total', help: 'test', labelNames: ['operation'], registers: [registry] }),
    },
  };
  await db.query(`INSERT INTO users (id, plan_id) VALUES ($1, 'pro_monthly'), ($2, 'pro_monthly'), ($3, 'free')`, [PRO, PRO_OTHER, FREE]);
}, 100_000); // a service start, allowed startService's 90 s on a loaded machine

afterAll(async () => {
  await cache?.close();
  await usageQueue?.obliterate({ force: true }).catch(() => undefined);
  await usageQueue?.close();
  if (redis) {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
  await sim?.stop();
  for (const c of cacheConnections ?? []) c.disconnect();
  await db?.drop();
});

/** Content no other test sends, so the simulator's call counts by content are this test's own. */
const uniqueContent = (directives = '') =>
  `Quota Vault charges every AI call before it is made, run ${randomUUID()}. Contact ops@example.com on 2024-05-13 about the 12 kg parcel. ${directives}`.trim();

/** An item as api-service stores it (PENDING), and the job its outbox row carries (job id = item id). */
async function newItem(userId: string, content: string, tasks: TaskName[], title: string | null = 'Quota Vault'): Promise<EnrichmentJob> {
  const itemId = `itm_${randomUUID().replace(/-/g, '')}`;
  await db.query(`INSERT INTO items (id, user_id, title, content, tasks) VALUES ($1, $2, $3, $4, $5)`, [itemId, userId, title, content, tasks]);
  return { v: 1, itemId, userId, reservationId: `rsv_${itemId}`, tasks, charged: true };
}

/** One attempt of the job, as the worker makes it (job id = item id; `retry` from the second attempt on). */
const run = (job: EnrichmentJob, d: EnrichDeps = deps, attempt = { retry: false }) => enrich(d, job.itemId, job, attempt);
const retry = (job: EnrichmentJob) => run(job, deps, { retry: true });

async function itemRow(itemId: string) {
  const [row] = await db.query<{ status: string; enrichment: Record<string, unknown> | null; error: string | null; updated_at: Date }>(
    'SELECT status, enrichment, error, updated_at FROM items WHERE id = $1',
    [itemId],
  );
  return row;
}

/** Every usage-events job about this item, in whatever state BullMQ keeps it. */
async function usageJobsOf(itemId: string) {
  const jobs = await usageQueue.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed', 'waiting-children']);
  return jobs.filter((j) => (j.data as UsageCompleted).itemId === itemId);
}

/** Chat completion calls the simulator received whose user content contains `text`. */
async function simCalls(text: string): Promise<number> {
  const res = await fetch(`${sim.url}/sim/calls?contains=${encodeURIComponent(text)}`);
  return ((await res.json()) as { count: number }).count;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected enrich to reject');
}

/** What the provider answers each task for this input, called directly (not through enrich or the cache). */
async function reference(input: TaskInput, tasks: TaskName[]) {
  const out: Record<string, { output: unknown; promptTokens: number; completionTokens: number; cost: number }> = {};
  for (const task of tasks) {
    const definition = TASKS[task];
    const result = await provider.complete({ messages: definition.buildMessages(input), maxTokens: definition.completionCap, responseFormat: 'json' });
    out[task] = { output: definition.parse(result.text), promptTokens: result.promptTokens, completionTokens: result.completionTokens, cost: costUsd(result.model, result.promptTokens, result.completionTokens) };
  }
  return out;
}

describe('enrich()', () => {
  it('stores every task output on the item (DONE) and emits one usage.completed with the exact tokens and cost', async () => {
    const content = uniqueContent();
    const tasks: TaskName[] = ['summarize', 'tag', 'extract'];
    const job = await newItem(PRO, content, tasks);
    const expected = await reference({ content, title: 'Quota Vault' }, tasks);
    const callsBefore = await simCalls(content);
    const llmCallsBefore = (await deps.metrics.llmCalls.get()).values.reduce((n, v) => n + v.value, 0);

    await run(job);

    expect(await simCalls(content)).toBe(callsBefore + 3); // one call per task
    expect((await deps.metrics.llmCalls.get()).values.reduce((n, v) => n + v.value, 0)).toBe(llmCallsBefore + 3);
    const promptTokens = tasks.reduce((n, t) => n + expected[t].promptTokens, 0);
    const completionTokens = tasks.reduce((n, t) => n + expected[t].completionTokens, 0);
    // The system prompt enrich takes from the cache's system tier is the registry's own text:
    // the prompt tokens are those of the task messages, and the quota estimate (prompt + caps) is exact.
    expect(promptTokens).toBe(tasks.reduce((n, t) => n + countChatTokensBounded(TASKS[t].buildMessages({ content, title: 'Quota Vault' })), 0));
    expect(estimateTokens({ content, title: 'Quota Vault' }, tasks)).toBe(promptTokens + tasks.reduce((n, t) => n + TASKS[t].completionCap, 0));

    const row = await itemRow(job.itemId);
    expect(row.status).toBe('DONE');
    expect(row.error).toBeNull();
    expect(row.enrichment).toEqual({
      summary: (expected.summarize.output as { summary: string }).summary,
      tags: (expected.tag.output as { tags: string[] }).tags,
      extract: (expected.extract.output as { facts: unknown }).facts,
      model: 'sim-1',
      cached: false,
      promptTokens,
      completionTokens,
    });
    expect((row.enrichment!.summary as string).length).toBeGreaterThan(0);
    expect(row.enrichment!.tags).toContain('quota');

    const events = await usageJobsOf(job.itemId);
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event.id).toBe(completedEventId(job.itemId));
    expect(event.name).toBe('usage.completed');
    const data = event.data as UsageCompleted;
    expect(data).toEqual({
      v: 1,
      type: 'usage.completed',
      eventId: completedEventId(job.itemId),
      idempotencyKey: completedEventId(job.itemId),
      userId: PRO,
      itemId: job.itemId,
      reservationId: job.reservationId,
      charged: true,
      occurredAt: expect.any(String),
      model: 'sim-1',
      promptTokens,
      completionTokens,
      costUsd: expect.any(Number),
      cache: { tier: null, hit: false, tokensSaved: 0, costSavedUsd: 0 },
    });
    expect(data.costUsd).toBeCloseTo(tasks.reduce((n, t) => n + expected[t].cost, 0), 12);
    expect(data.costUsd).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(data.occurredAt))).toBe(false);
  });

  it('serves the same content of the same user from the cache the second time: no LLM call, the saving in the event', async () => {
    const content = uniqueContent();
    const tasks: TaskName[] = ['summarize', 'tag'];
    const first = await newItem(PRO, content, tasks);
    const second = await newItem(PRO, content, tasks);
    const unavailableBefore = (await deps.metrics.cacheUnavailable.get()).values.reduce((n, v) => n + v.value, 0);

    await run(first);
    expect(await simCalls(content)).toBe(2);
    const firstEvent = (await usageJobsOf(first.itemId))[0].data as UsageCompleted;
    expect(firstEvent.cache.hit).toBe(false);

    await run(second);
    expect(await simCalls(content)).toBe(2); // nothing sent to the provider

    const a = (await itemRow(first.itemId)).enrichment!;
    const b = await itemRow(second.itemId);
    expect(b.status).toBe('DONE');
    expect(b.enrichment).toEqual({ summary: a.summary, tags: a.tags, model: 'sim-1', cached: true, promptTokens: 0, completionTokens: 0 });
    const secondEvents = await usageJobsOf(second.itemId);
    expect(secondEvents).toHaveLength(1);
    const hit = secondEvents[0].data as UsageCompleted;
    expect([hit.promptTokens, hit.completionTokens, hit.costUsd]).toEqual([0, 0, 0]);
    expect(hit.cache).toEqual({ tier: 'content', hit: true, tokensSaved: firstEvent.promptTokens + firstEvent.completionTokens, costSavedUsd: expect.any(Number) });
    expect(hit.cache.costSavedUsd).toBeCloseTo(firstEvent.costUsd, 12);
    // The hit came from the cache working, not from failing open around it.
    expect((await deps.metrics.cacheUnavailable.get()).values.reduce((n, v) => n + v.value, 0)).toBe(unavailableBefore);
  });

  it('never serves another user, nor a plan without cache TTLs, from the cache', async () => {
    const content = uniqueContent();
    await run(await newItem(PRO, content, ['summarize']));
    expect(await simCalls(content)).toBe(1);

    // The same content for another user: a call of its own (the cache never crosses users).
    const other = await newItem(PRO_OTHER, content, ['summarize']);
    await run(other);
    expect(await simCalls(content)).toBe(2);
    expect((await usageJobsOf(other.itemId))[0].data.cache.hit).toBe(false);

    // A free plan has no TTLs: every item calls the provider, however often its content repeats.
    const free1 = await newItem(FREE, content, ['summarize']);
    const free2 = await newItem(FREE, content, ['summarize']);
    await run(free1);
    await run(free2);
    expect(await simCalls(content)).toBe(4);
    const freeEvent = (await usageJobsOf(free2.itemId))[0].data as UsageCompleted;
    expect(freeEvent.cache).toEqual({ tier: null, hit: false, tokensSaved: 0, costSavedUsd: 0 });
    expect(freeEvent.promptTokens).toBeGreaterThan(0);
    expect((await itemRow(free2.itemId)).enrichment!.cached).toBe(false);
  });

  it.each([
    { status: 500, kind: 'server', retryable: true, decision: 'retry' },
    { status: 503, kind: 'server', retryable: true, decision: 'retry' },
    { status: 400, kind: 'client', retryable: false, decision: 'give_up' },
    { status: 422, kind: 'client', retryable: false, decision: 'give_up' },
  ])('a provider $status rejects as LlmError($kind), which the worker turns into $decision; nothing stored or emitted', async ({ status, kind, retryable, decision }) => {
    const content = uniqueContent(`[sim:status=${status}]`);
    const job = await newItem(PRO, content, ['summarize', 'tag']);

    const err = await rejection(run(job));

    expect(err).toBeInstanceOf(LlmError);
    expect([(err as LlmError).kind, (err as LlmError).status, (err as LlmError).retryable]).toEqual([kind, status, retryable]);
    expect(decideRetry(err).kind).toBe(decision);
    expect(await simCalls(content)).toBe(1); // the first task failed; the second was not tried
    const row = await itemRow(job.itemId);
    expect(row.status).not.toBe('DONE');
    expect(row.enrichment).toBeNull();
    expect(await usageJobsOf(job.itemId)).toHaveLength(0);
  });

  it("a provider 429 rejects as rate_limited with the provider's Retry-After, which holds the queue for that long", async () => {
    const content = uniqueContent('[sim:status=429] [sim:retry_after=7]');
    const job = await newItem(FREE, content, ['tag']);

    const err = await rejection(run(job));

    expect(err).toBeInstanceOf(LlmError);
    expect([(err as LlmError).kind, (err as LlmError).status, (err as LlmError).retryAfterMs]).toEqual(['rate_limited', 429, 7000]);
    expect(decideRetry(err)).toMatchObject({ kind: 'rate_limited', delayMs: 7000 });
    expect(await usageJobsOf(job.itemId)).toHaveLength(0);
  });

  it('an item that does not exist fails for good (UnrecoverableError), without a call', async () => {
    const job: EnrichmentJob = { v: 1, itemId: `itm_missing_${randomUUID().replace(/-/g, '')}`, userId: PRO, reservationId: null, tasks: ['tag'], charged: true };
    const err = await rejection(run(job));
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect(await usageJobsOf(job.itemId)).toHaveLength(0);
  });

  it('after [sim:fail_first=1] the retry succeeds, and its event counts only the calls that answered', async () => {
    const content = uniqueContent('[sim:fail_first=1]');
    const tasks: TaskName[] = ['summarize', 'tag'];
    const job = await newItem(PRO, content, tasks);

    const err = await rejection(run(job));
    expect([(err as LlmError).kind, decideRetry(err).kind]).toEqual(['server', 'retry']);
    expect(await usageJobsOf(job.itemId)).toHaveLength(0);

    await retry(job);
    expect(await simCalls(content)).toBe(3); // the failed call, then one per task
    const row = await itemRow(job.itemId);
    expect(row.status).toBe('DONE');
    const events = await usageJobsOf(job.itemId);
    expect(events).toHaveLength(1);
    const event = events[0].data as UsageCompleted;
    const promptTokens = tasks.reduce((n, t) => n + countChatTokensBounded(TASKS[t].buildMessages({ content, title: 'Quota Vault' })), 0);
    expect([event.promptTokens, event.completionTokens]).toEqual([promptTokens, row.enrichment!.completionTokens]);
    expect(event.completionTokens).toBeGreaterThan(0);
  });

  it("bills what an earlier attempt paid for (job.spent, as the worker keeps it) with the attempt that completes, and its cached answer saves nothing", async () => {
    const content = uniqueContent();
    // An earlier attempt of this job got summarize answered (now in the cache) before tag failed.
    const earlier = await newItem(PRO, content, ['summarize']);
    await run(earlier);
    const paid = (await usageJobsOf(earlier.itemId))[0].data as UsageCompleted;
    const job: EnrichmentJob = { ...(await newItem(PRO, content, ['summarize', 'tag'])), spent: { model: paid.model, promptTokens: paid.promptTokens, completionTokens: paid.completionTokens, costUsd: paid.costUsd, tasks: ['summarize'] } };

    await retry(job);
    expect(await simCalls(content)).toBe(2); // summarize once (the earlier attempt), tag now
    const event = (await usageJobsOf(job.itemId))[0].data as UsageCompleted;
    const tagPrompt = countChatTokensBounded(TASKS.tag.buildMessages({ content, title: 'Quota Vault' }));
    const row = await itemRow(job.itemId);
    expect(event.promptTokens).toBe(paid.promptTokens + tagPrompt);
    expect(event.completionTokens).toBe(row.enrichment!.completionTokens);
    expect(event.completionTokens).toBeGreaterThan(paid.completionTokens);
    expect(event.cache).toEqual({ tier: null, hit: false, tokensSaved: 0, costSavedUsd: 0 });
    expect(row.enrichment).toMatchObject({ cached: false, promptTokens: event.promptTokens });
  });

  it('an attempt that fails after a task was answered passes the answer on: the retry asks only for the rest, on a plan without cache too, and bills each task once', async () => {
    const content = uniqueContent('[sim:fail_nth=2]'); // summarize answers, then tag fails once
    const job = await newItem(FREE, content, ['summarize', 'tag']);
    const err = await rejection(run(job));
    const spent = spentOf(err);
    expect(spent).toMatchObject({ tasks: ['summarize'], outputs: { summarize: { summary: expect.any(String) } } });

    // As the worker keeps it: the job's data, through JSON (Redis), read back by the next attempt.
    await retry(JSON.parse(JSON.stringify({ ...job, spent })) as EnrichmentJob);
    expect(await simCalls(content)).toBe(3); // summarize, the failed tag, tag again: summarize was not asked twice
    const row = await itemRow(job.itemId);
    expect(row.status).toBe('DONE');
    expect(row.enrichment).toMatchObject({ summary: (spent!.outputs!.summarize as { summary: string }).summary, tags: expect.any(Array) });
    const event = (await usageJobsOf(job.itemId))[0].data as UsageCompleted;
    const promptOf = (task: TaskName) => countChatTokensBounded(TASKS[task].buildMessages({ content, title: 'Quota Vault' }));
    expect(event.promptTokens).toBe(promptOf('summarize') + promptOf('tag'));
    expect(event.completionTokens).toBe(row.enrichment!.completionTokens);
  });

  it('after an answer cut at its cap (paid for, no JSON), a retry whose call would pass the charge is refused for good, without the call', async () => {
    const content = uniqueContent('[sim:cut_first=1]');
    const job = await newItem(FREE, content, ['summarize']);
    const first = await rejection(run(job));
    expect(decideRetry(first).kind).toBe('retry');
    const spent = spentOf(first)!;
    const estimate = estimateTokens({ content, title: 'Quota Vault' }, ['summarize']);
    // The whole estimate is paid: the exact prompt and the cap's worth of a cut answer.
    expect(spent.promptTokens + spent.completionTokens).toBe(estimate);
    expect(spent.tasks).toEqual([]);

    const second = await rejection(retry({ ...job, spent }));
    expect(second).toBeInstanceOf(UnrecoverableError);
    expect((second as Error).message).toMatch(/no room left in the item's reservation/);
    expect(await simCalls(content)).toBe(1);
    expect(spentOf(second)).toEqual(spent); // still billed, once
  });

  it('a carried answer that no longer reads as its task\'s output is asked again', async () => {
    const content = uniqueContent();
    const job: EnrichmentJob = { ...(await newItem(FREE, content, ['summarize'])), spent: { model: 'sim-1', promptTokens: 0, completionTokens: 0, costUsd: 0, tasks: ['summarize'], outputs: { summarize: { nope: 1 } } } };
    await retry(job);
    expect(await simCalls(content)).toBe(1);
    expect((await itemRow(job.itemId)).enrichment).toMatchObject({ summary: expect.any(String) });
  });

  it('a failed attempt that got no answer carries no spend', async () => {
    const job = await newItem(PRO, uniqueContent('[sim:status=500]'), ['summarize', 'tag']);
    const err = await rejection(run(job));
    expect((err as LlmError).kind).toBe('server');
    expect(spentOf(err)).toBeUndefined();
  });

  it('run again for a DONE item (a redelivered job): no LLM call, the item untouched, still one usage event', async () => {
    const content = uniqueContent();
    // A plan without cache, so a second run that called the provider again could not hide behind a hit.
    const job = await newItem(FREE, content, ['summarize', 'extract']);
    await run(job);
    const done = await itemRow(job.itemId);
    const [firstEvent] = await usageJobsOf(job.itemId);
    const calls = await simCalls(content);

    await retry(job);
    await retry(job);

    expect(await simCalls(content)).toBe(calls);
    expect(await itemRow(job.itemId)).toEqual(done); // enrichment and updated_at as the first run left them
    const events = await usageJobsOf(job.itemId);
    expect(events).toHaveLength(1);
    expect([events[0].id, events[0].timestamp, events[0].data]).toEqual([firstEvent.id, firstEvent.timestamp, firstEvent.data]);
  });

  it('a run that stored the result but could not emit (Redis gone) emits on the retry, from the stored figures, without calling again', async () => {
    const content = uniqueContent();
    const job = await newItem(FREE, content, ['summarize', 'tag']);
    // A usage queue whose connection is closed: the item completes, then the publish fails.
    const lost = createRedis(testRedisUrl());
    const lostQueue = createQueue(QUEUE_NAMES.usageEvents, lost, prefix);
    await lostQueue.waitUntilReady();
    lost.disconnect();
    try {
      await rejection(run(job, { ...deps, usage: new UsageEventsPublisher(lostQueue) }));
    } finally {
      await lostQueue.close().catch(() => undefined);
    }
    const done = await itemRow(job.itemId);
    expect(done.status).toBe('DONE');
    expect(await usageJobsOf(job.itemId)).toHaveLength(0);
    const calls = await simCalls(content);
    expect(calls).toBe(2);

    await retry(job);

    expect(await simCalls(content)).toBe(calls);
    expect(await itemRow(job.itemId)).toEqual(done);
    const events = await usageJobsOf(job.itemId);
    expect(events).toHaveLength(1);
    const event = events[0].data as UsageCompleted;
    const stored = done.enrichment as { promptTokens: number; completionTokens: number };
    expect(event).toMatchObject({ eventId: completedEventId(job.itemId), itemId: job.itemId, userId: FREE, model: 'sim-1', promptTokens: stored.promptTokens, completionTokens: stored.completionTokens });
    expect(event.promptTokens).toBeGreaterThan(0);
    expect(event.costUsd).toBeCloseTo(costUsd('sim-1', stored.promptTokens, stored.completionTokens), 12);
  });
});
