import type { ReconciliationResponse } from '@qv/contracts';
import { createUser, eventually, http, simulatorCalls, startStack, type Stack } from '@qv/testing';
import OpenAI, { APIError } from 'openai';
import { openAiSdk, quotaOf, reservationOf, settledEntry } from './support/chat';

/**
 * Function calling on POST /v1/chat/completions through the real stack and the official SDK:
 * what a provider bills as prompt beside the messages' text (function definitions, earlier calls
 * and their results, images) is charged before the call, so no call settles past the user's token
 * budget; and the model's calls reach the client, unstreamed and streamed, and again from the
 * cache and an idempotent replay.
 */
describe('chat completions with tools', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const sdk = (apiKey: string, headers: Record<string, string> = {}) => openAiSdk(stack, apiKey, headers);
  const simCalls = (marker: string) => simulatorCalls(stack.services['llm-simulator']!.url, marker);
  const quota = (key: string) => quotaOf(stack, key);
  const reservation = (callId: string) => reservationOf(stack, callId);
  const settled = (key: string, callId: string) => settledEntry(stack, key, callId);

  const weather = { type: 'function' as const, function: { name: 'get_weather', description: 'The weather in a city, now.', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
  /** Forty functions of about sixty tokens each: 2,988 tokens billed as prompt beside a one-line question. */
  const manyTools = Array.from({ length: 40 }, (_, i) => ({
    type: 'function' as const,
    function: {
      name: `lookup_record_${i}`,
      description: `Looks up record kind ${i} in the archive by its identifier and returns every field of it, with the history of changes, the owner and the retention class.`,
      parameters: { type: 'object', properties: { id: { type: 'string', description: 'The identifier of the record to look up.' } }, required: ['id'] },
    },
  }));

  it.each([
    ['forty function definitions', (marker: string) => ({ messages: [{ role: 'user' as const, content: `Find record 7. ${marker}` }], tools: manyTools })],
    [
      'an earlier call’s long arguments and its result',
      (marker: string) => ({
        messages: [
          { role: 'user' as const, content: `Summarise the ticket. ${marker}` },
          { role: 'assistant' as const, content: null, tool_calls: [{ id: 'call_1', type: 'function' as const, function: { name: 'get_ticket', arguments: JSON.stringify({ ids: Array.from({ length: 600 }, (_, i) => `T-${i}`) }) } }] },
          { role: 'tool' as const, content: 'closed', tool_call_id: 'call_1' },
        ],
      }),
    ],
    [
      'two images',
      (marker: string) => ({
        messages: [{ role: 'user' as const, content: [{ type: 'text' as const, text: `What differs? ${marker}` }, ...[1, 2].map((n) => ({ type: 'image_url' as const, image_url: { url: `https://example.com/${n}.png` } }))] }],
      }),
    ],
  ])('%s: charged as prompt before the call, so the settled tokens never pass the budget', async (_, bodyFor) => {
    const marker = `marker-tools-${Math.random().toString(36).slice(2)}`;
    const body = { model: 'sim-1', max_tokens: 500, ...bodyFor(marker) } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming;
    // A budget far above the messages' text and below what the provider bills for the whole prompt.
    const dana = await createUser(stack.api, stack.adminKey, 'pro_monthly', { tokensPerDay: 1000 });
    const refused = await sdk(dana.key).chat.completions.create(body).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect((refused as APIError).code).toBe('DAILY_TOKEN_QUOTA_EXCEEDED');
    expect(await simCalls(marker)).toBe(0);
    expect((await quota(dana.key)).tokensPerDay.used).toBe(0);

    // With room for the prompt and a little more: answered, the cap clamped to the room after the prompt's estimate.
    await http('PATCH', `${stack.api}/admin/users/${dana.id}`, { key: stack.adminKey, body: { overrides: { tokensPerDay: 4000 } } });
    const { data, response } = await sdk(dana.key).chat.completions.create(body).withResponse();
    const callId = response.headers.get('x-qv-call-id')!;
    const cap = Number(response.headers.get('x-qv-max-tokens'));
    const charged = await reservation(callId);
    expect(data.usage!.prompt_tokens).toBeGreaterThan(700); // the provider did bill the prompt beside its text
    expect(data.usage!.prompt_tokens).toBeLessThanOrEqual(charged.estimated_tokens - cap); // the estimate bounds it
    await settled(dana.key, callId);
    expect(await reservation(callId)).toMatchObject({ status: 'SETTLED', actual_tokens: data.usage!.total_tokens });
    const after = (await quota(dana.key)).tokensPerDay;
    expect(after.used).toBe(data.usage!.total_tokens);
    expect(after.used).toBeLessThanOrEqual(4000);
  });

  it('refuses a file part, whose cost has no bound before the call: 400, nothing charged', async () => {
    const erin = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const marker = 'marker-file-1';
    const body = { model: 'sim-1', messages: [{ role: 'user', content: [{ type: 'text', text: marker }, { type: 'file', file: { file_id: 'file-abc' } }] }] } as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming;
    const refused = await sdk(erin.key).chat.completions.create(body).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as APIError).code).toBe('VALIDATION_FAILED');
    expect(await simCalls(marker)).toBe(0);
    expect(await stack.db.query('SELECT 1 FROM ai_usage_reservations WHERE user_id = $1', [erin.id])).toEqual([]);
  });

  it('refuses tools, calls and settings a provider would refuse, before the charge: 400, nothing charged or called', async () => {
    const gil = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const marker = 'marker-bad-tools-4';
    const messages = [{ role: 'user', content: `Weather? ${marker}` }];
    const bodies = [
      { messages, tools: [{ type: 'function', function: { name: 'get weather' } }] },
      { messages, tools: [{ type: 'function', function: 'get_weather' }] },
      { messages, tools: [{ type: 'retrieval' }] },
      { messages, tools: 'get_weather' },
      { messages, tool_choice: 'sometimes' },
      { messages, response_format: { type: 'yaml' } },
      { messages, temperature: 3 },
      { messages, stop: ['a', 'b', 'c', 'd', 'e'] },
      { messages, top_logprobs: 2 ** 31 },
      { messages: [...messages, { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: { city: 'Oslo' } } }] }] },
      { messages: [...messages, { role: 'tool', content: 'x', tool_call_id: '' }] },
    ];
    for (const body of bodies) {
      const refused = await sdk(gil.key).chat.completions.create({ model: 'sim-1', ...body } as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming).catch((err: unknown) => err);
      expect([JSON.stringify(body).slice(0, 120), (refused as APIError).status, (refused as APIError).code]).toEqual([JSON.stringify(body).slice(0, 120), 400, 'VALIDATION_FAILED']);
    }
    expect(await simCalls(marker)).toBe(0);
    expect(await stack.db.query('SELECT 1 FROM ai_usage_reservations WHERE user_id = $1', [gil.id])).toEqual([]);
  });

  it('passes the model’s function call to the client, unstreamed and streamed, and again from the cache and an idempotent replay', async () => {
    const fay = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const marker = 'marker-call-2';
    const body = { model: 'sim-1', messages: [{ role: 'user' as const, content: `Weather in Oslo? ${marker}` }], tools: [weather], tool_choice: 'required' as const, max_tokens: 80 };
    const expectCall = (message: OpenAI.Chat.ChatCompletionMessage | undefined) => {
      expect(message?.content).toBeNull();
      expect(message?.tool_calls).toHaveLength(1);
      const call = message!.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
      expect(call).toMatchObject({ type: 'function', function: { name: 'get_weather' } });
      expect(call.id).toMatch(/^call_/);
      expect(JSON.parse(call.function.arguments)).toEqual({ input: `Weather in Oslo? ${marker}` });
      return call;
    };

    const cached = sdk(fay.key, { 'X-QV-Cache': 'content' });
    const { data: first, response } = await cached.chat.completions.create(body).withResponse();
    expect(first.choices[0].finish_reason).toBe('tool_calls');
    const firstCall = expectCall(first.choices[0].message);
    expect(response.headers.get('x-qv-cache')).toBe('miss');
    const entry = await settled(fay.key, response.headers.get('x-qv-call-id')!);
    expect(entry).toMatchObject({ kind: 'completed', completionTokens: first.usage!.completion_tokens, charged: true });

    const { data: hit, response: hitResponse } = await eventually(async () => {
      const answer = await cached.chat.completions.create(body).withResponse();
      return answer.response.headers.get('x-qv-cache') === 'hit' ? answer : undefined;
    });
    expect(hitResponse.headers.get('x-qv-cache')).toBe('hit');
    expect(expectCall(hit.choices[0].message)).toEqual(firstCall);
    expect(hit.choices[0].finish_reason).toBe('tool_calls');

    // Streamed from the cache, and streamed from the provider (no cache): the SDK puts the same call together.
    const replayed = await cached.chat.completions.stream({ ...body, stream: true }).finalChatCompletion();
    expect(expectCall(replayed.choices[0].message)).toEqual(firstCall);
    const streamed = await sdk(fay.key).chat.completions.stream({ ...body, stream: true, stream_options: { include_usage: true } }).finalChatCompletion();
    expectCall(streamed.choices[0].message);
    expect(streamed.choices[0].finish_reason).toBe('tool_calls');
    expect(streamed.usage!.completion_tokens).toBe(first.usage!.completion_tokens);

    const keyed = sdk(fay.key, { 'Idempotency-Key': 'tools-once-1' });
    const once = await keyed.chat.completions.create(body);
    const again = await keyed.chat.completions.create(body).withResponse();
    expect(again.response.headers.get('idempotent-replayed')).toBe('true');
    expect(again.data.choices[0].message.tool_calls).toEqual(once.choices[0].message.tool_calls);
    expect(await simCalls(marker)).toBe(3); // the first call, the stream without cache, the keyed call: never the hits nor the replay

    const drift = (await http<ReconciliationResponse>('GET', `${stack.api}/admin/reconciliation?userId=${fay.id}`, { key: stack.adminKey })).body;
    expect(drift.totalDrift).toBe(0);
  });
});
