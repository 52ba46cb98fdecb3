import type { Overview, ReconciliationResponse } from '@qv/contracts';
import { countChatTokensBounded } from '@qv/llm';
import { createUser, eventually, http, startStack, type Stack } from '@qv/testing';
import { APIError } from 'openai';
import { openAiSdk, quotaOf, settledEntry } from './support/chat';

/** The largest answer api-service reads from the provider in this stack (LLM_MAX_ANSWER_BYTES). */
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * A provider that ignores the completion cap (`[sim:runaway_tokens=N]`), through the real stack:
 * an answer past LLM_MAX_ANSWER_BYTES is cut off and never held whole (streamed: settled to no more
 * than the cap, the most that was charged; unstreamed: failed and released), and one within it that
 * reports more tokens than the cap is settled to what it billed and shows as a settlement above its
 * estimate on ledger-consumer's /metrics (the SettledAboveEstimate alert's series).
 */
describe('a provider that ignores its cap', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ serviceEnv: { 'api-service': { LLM_MAX_ANSWER_BYTES: String(MAX_ANSWER_BYTES) }, 'ledger-consumer': { RECONCILE_INTERVAL_MS: '300' } } });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const sdk = (apiKey: string) => openAiSdk(stack, apiKey);
  const user = (text: string) => [{ role: 'user' as const, content: text }];
  const reservations = async (userId: string) =>
    stack.db.query<{ item_id: string; status: string; estimated_tokens: number; actual_tokens: number | null }>('SELECT item_id, status, estimated_tokens, actual_tokens FROM ai_usage_reservations WHERE user_id = $1', [userId]);
  const settled = (key: string, callId: string) => settledEntry(stack, key, callId);
  const drift = async (userId: string) => (await http<ReconciliationResponse>('GET', `${stack.api}/admin/reconciliation?userId=${userId}`, { key: stack.adminKey })).body.totalDrift;

  it('streamed past LLM_MAX_ANSWER_BYTES: the stream ends in an error, settled to the cap, drift 0', async () => {
    const kim = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const messages = user('A provider that never stops. marker-runaway-1 [sim:runaway_tokens=200000]');
    const { data: stream, response } = await sdk(kim.key).chat.completions.create({ model: 'sim-1', messages, max_tokens: 50, stream: true }).withResponse();
    const callId = response.headers.get('x-qv-call-id')!;
    let pieces = 0;
    const ended = await (async () => {
      for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) pieces++;
    })().catch((err: unknown) => err);
    expect(ended).toBeInstanceOf(APIError); // the error event that ends a broken stream
    expect(pieces).toBeGreaterThan(50); // the provider did run past its cap before it was cut off
    const entry = await settled(kim.key, callId);
    const prompt = countChatTokensBounded(messages);
    expect(entry).toMatchObject({ kind: 'completed', charged: true, promptTokens: prompt, completionTokens: 50 });
    expect(await reservations(kim.id)).toEqual([{ item_id: callId, status: 'SETTLED', estimated_tokens: prompt + 50, actual_tokens: prompt + 50 }]);
    expect(await drift(kim.id)).toBe(0);
  });

  it('unstreamed past LLM_MAX_ANSWER_BYTES: a 5xx, the reservation released, nothing settled', async () => {
    const lee = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const failed = await sdk(lee.key).chat.completions.create({ model: 'sim-1', messages: user('A provider that never stops. marker-runaway-2 [sim:runaway_tokens=400000]'), max_tokens: 50 }).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(APIError);
    expect((failed as APIError).status).toBeGreaterThanOrEqual(500);
    await eventually(async () => (await reservations(lee.id))[0]?.status === 'RELEASED');
    const quota = await quotaOf(stack, lee.key);
    expect({ tokens: quota.tokensPerDay.used, inFlight: quota.concurrentJobs.used }).toEqual({ tokens: 0, inFlight: 0 });
    expect(await drift(lee.id)).toBe(0);
  });

  it('within the bound but past the cap: settled to what the provider billed, and counted above its estimate on /metrics', async () => {
    const mia = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const messages = user('A provider that bills past the cap. marker-runaway-3 [sim:runaway_tokens=200]');
    const { data, response } = await sdk(mia.key).chat.completions.create({ model: 'sim-1', messages, max_tokens: 50 }).withResponse();
    expect(data.usage!.completion_tokens).toBe(200);
    const entry = await settled(mia.key, response.headers.get('x-qv-call-id')!);
    expect(entry).toMatchObject({ completionTokens: 200, charged: true });
    const metric = async () => {
      const text = await (await fetch(`${stack.services['ledger-consumer']!.url}/metrics`, { headers: stack.as('metrics') })).text();
      return Number(/^ledger_tokens_above_estimate\{day="all"[^}]*\} (\d+)$/m.exec(text)?.[1] ?? 0);
    };
    expect(await eventually(async () => ((await metric()) >= 150 ? metric() : undefined), 10_000, 200)).toBe(150);
    // And on the operators' overview (the console's tile).
    const overview = (await http<Overview>('GET', `${stack.api}/admin/overview`, { key: stack.adminKey })).body;
    expect(overview.aboveEstimate).toEqual({ day: new Date().toISOString().slice(0, 10), reservations: 1, tokens: 150 });
    expect(await drift(mia.id)).toBe(0);
  });
});
