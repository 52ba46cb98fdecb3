import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { startService, type ServiceProcess } from '@qv/testing';
import { LlmError } from '../errors';
import { estimateTokens, TASKS } from '../tasks/tasks';
import { runTask } from '../testing';
import { countChatTokensBounded, countTokens } from '../tokens';
import type { LlmProvider } from '../types';
import { createProvider } from './create-provider';

let sim: ServiceProcess;
let provider: LlmProvider;

beforeAll(async () => {
  sim = await startService('llm-simulator', {});
  provider = createProvider({ provider: 'simulator', baseUrl: `${sim.url}/v1`, timeoutMs: 5000 });
});

afterAll(async () => {
  await sim?.stop();
});

/** A document no other test sends, so fault counters and call counts are this test's own. */
function doc(directives = ''): string {
  return `Quota Vault charges every AI call before it is made. Run ${randomUUID()} checks it. ${directives}`.trim();
}

async function failure(promise: Promise<unknown>): Promise<LlmError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(LlmError);
    return err as LlmError;
  }
  throw new Error('expected the call to fail');
}

async function calls(contains?: string): Promise<number> {
  const query = contains === undefined ? '' : `?contains=${encodeURIComponent(contains)}`;
  const body = (await (await fetch(`${sim.url}/sim/calls${query}`)).json()) as { count: number };
  return body.count;
}

describe('the simulator through the OpenAI-compatible adapter', () => {
  it('answers every task with parseable output and usage equal to our own counts', async () => {
    const input = { content: `${doc()} Contact ops@example.com on 2024-05-13 about the 12 kg parcel.`, title: 'Quota Vault' };
    const estimates = [];
    for (const task of ['summarize', 'tag', 'extract'] as const) {
      const { output, result } = await runTask(provider, task, input);
      const messages = TASKS[task].buildMessages(input);
      expect(result.model).toBe('sim-1');
      expect(result.promptTokens).toBe(countChatTokensBounded(messages));
      expect(result.completionTokens).toBe(countTokens(result.text));
      expect(result.completionTokens).toBeLessThanOrEqual(TASKS[task].completionCap);
      expect(estimateTokens(input, [task])).toBe(result.promptTokens + TASKS[task].completionCap);
      estimates.push(result.promptTokens + TASKS[task].completionCap);
      expect(output).toEqual(TASKS[task].parse(result.text));
    }
    expect(estimateTokens(input, ['summarize', 'tag', 'extract'])).toBe(estimates[0] + estimates[1] + estimates[2]);
  });

  it('keeps the completion within maxTokens', async () => {
    const result = await provider.complete({ messages: TASKS.summarize.buildMessages({ content: doc() }), maxTokens: 4 });
    expect(result.completionTokens).toBe(4);
    expect(countTokens(result.text)).toBe(4);
  });

  it('echoes a prompt that is no task, which no task parser accepts', async () => {
    const content = doc();
    const result = await provider.complete({ messages: [{ role: 'user', content }], maxTokens: 100 });
    expect(result.text.startsWith('echo: Quota Vault charges')).toBe(true);
    expect(result.promptTokens).toBe(countChatTokensBounded([{ role: 'user', content }]));
    const err = await failure(Promise.resolve().then(() => TASKS.tag.parse(result.text)));
    expect([err.kind, err.retryable]).toEqual(['invalid_response', true]);
  });

  it.each(['negative', 'huge', 'fraction', 'text'])('usage whose prompt count is none ([sim:usage=%s]) → invalid_response, retryable: never a settlement below 0 or past the column', async (kind) => {
    const err = await failure(provider.complete({ messages: [{ role: 'user', content: doc(`[sim:usage=${kind}]`) }], maxTokens: 20 }));
    expect([err.kind, err.retryable]).toEqual(['invalid_response', true]);
  });

  it('an answer past maxAnswerBytes ([sim:runaway_tokens], a provider ignoring its cap) → invalid_response, never read whole', async () => {
    const bounded = createProvider({ provider: 'simulator', baseUrl: `${sim.url}/v1`, timeoutMs: 5000, maxAnswerBytes: 64 * 1024 });
    const err = await failure(bounded.complete({ messages: [{ role: 'user', content: doc('[sim:runaway_tokens=100000]') }], maxTokens: 20 }));
    expect([err.kind, err.retryable, err.message]).toEqual(['invalid_response', true, 'simulator: the answer passed 65536 bytes (LLM_MAX_ANSWER_BYTES)']);
    const within = await bounded.complete({ messages: [{ role: 'user', content: doc('[sim:runaway_tokens=300]') }], maxTokens: 20 });
    expect(within.completionTokens).toBe(300); // what the provider reports it billed, past the cap
  });

  it('[sim:status=429] → rate_limited with Retry-After', async () => {
    const err = await failure(runTask(provider, 'tag', { content: doc('[sim:status=429] [sim:retry_after=3]') }));
    expect([err.kind, err.status, err.retryAfterMs, err.retryable]).toEqual(['rate_limited', 429, 3000, true]);
    const byDefault = await failure(runTask(provider, 'tag', { content: doc('[sim:status=429]') }));
    expect(byDefault.retryAfterMs).toBe(1000);
  });

  it('[sim:status=500] and [sim:status=503] → server, retryable', async () => {
    for (const status of [500, 503]) {
      const err = await failure(runTask(provider, 'summarize', { content: doc(`[sim:status=${status}]`) }));
      expect([err.kind, err.status, err.retryable]).toEqual(['server', status, true]);
    }
  });

  it('[sim:fail_first=2] fails twice with 500, then succeeds; the SDK itself does not retry', async () => {
    const content = doc('[sim:fail_first=2]');
    expect((await failure(runTask(provider, 'tag', { content }))).kind).toBe('server');
    expect((await failure(runTask(provider, 'tag', { content }))).kind).toBe('server');
    const { output } = await runTask(provider, 'tag', { content });
    expect(output.tags).toContain('quota');
    expect(await calls(content)).toBe(3);
  });

  it('[sim:fail_until=T] fails with 503 until T, then succeeds', async () => {
    const until = Date.now() + 700;
    const content = doc(`[sim:fail_until=${until}]`);
    const err = await failure(runTask(provider, 'summarize', { content }));
    expect([err.kind, err.status]).toEqual(['server', 503]);
    await new Promise((resolve) => setTimeout(resolve, until - Date.now() + 20));
    const { output } = await runTask(provider, 'summarize', { content });
    expect(output.summary.startsWith('Quota Vault charges every AI call')).toBe(true);
  });

  it('[sim:latency_ms=300] with a 100 ms timeout → timeout, retryable', async () => {
    const impatient = createProvider({ provider: 'simulator', baseUrl: `${sim.url}/v1`, timeoutMs: 100 });
    // 'timeout' is the client's own deadline: an answer after 300 ms would have been a success.
    const err = await failure(runTask(impatient, 'tag', { content: doc('[sim:latency_ms=300]') }));
    expect([err.kind, err.retryable]).toEqual(['timeout', true]);
    // With time to wait, the same latency is just slow.
    const slow = Date.now();
    await runTask(provider, 'tag', { content: doc('[sim:latency_ms=300]') });
    expect(Date.now() - slow).toBeGreaterThanOrEqual(300);
  });

  it('an aborted signal → timeout', async () => {
    const controller = new AbortController();
    const pending = runTask(provider, 'tag', { content: doc('[sim:latency_ms=2000]') }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect((await failure(pending)).kind).toBe('timeout');
  });

  it('an invalid request → client (400), not retryable', async () => {
    const err = await failure(provider.complete({ messages: [], maxTokens: 10 }));
    expect([err.kind, err.status, err.retryable]).toEqual(['client', 400, false]);
  });

  it('nobody listening → network, retryable', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = server.address() as { port: number };
        server.close(() => resolve(free));
      });
    });
    const nowhere = createProvider({ provider: 'simulator', baseUrl: `http://127.0.0.1:${port}/v1`, timeoutMs: 1000 });
    const err = await failure(runTask(nowhere, 'tag', { content: 'x' }));
    expect([err.kind, err.retryable]).toEqual(['network', true]);
  });

  it('/sim/calls counts calls by content, /sim/reset clears them', async () => {
    const marker = `marker-${randomUUID()}`;
    expect(await calls(marker)).toBe(0);
    await runTask(provider, 'summarize', { content: `${marker} one.` });
    await runTask(provider, 'tag', { content: `${marker} one.` });
    await failure(runTask(provider, 'tag', { content: `${marker} [sim:status=500]` }));
    expect(await calls(marker)).toBe(3);
    expect(await calls()).toBeGreaterThanOrEqual(3);
    expect((await fetch(`${sim.url}/sim/reset`, { method: 'POST' })).status).toBe(204);
    expect(await calls(marker)).toBe(0);
    expect(await calls()).toBe(0);
  });
});
