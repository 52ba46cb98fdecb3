import Anthropic from '@anthropic-ai/sdk';
import fc from 'fast-check';
import type { QuotaStatus, UsagePage } from '@qv/contracts';
import { createUser, eventually, http, simulatorCalls, startStack, type Stack } from '@qv/testing';
import { anthropicTools, bodyOf, hostileNumber, hostileString, hostileValue } from './support/hostile';
import { chatHeaders, hostileCallsHold } from './support/hostile-calls';

/**
 * POST /v1/messages (issue 15: "plus Anthropic's POST /v1/messages if it falls out of the same
 * code") through the six services as processes, spoken to by the official `@anthropic-ai/sdk` with
 * only its base URL and key changed: the answer and its usage, one ledger entry and the quota
 * settled to it, streamed or not; the quota's refusals, a wrong key and a bad body as the SDK's own
 * error classes.
 */
describe('Anthropic-compatible messages', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const sdk = (apiKey: string) => new Anthropic({ apiKey, baseURL: stack.api, maxRetries: 0 });
  const tokensUsed = async (key: string) => (await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key })).body.quotas.tokensPerDay.used;
  const ledgerEntry = (key: string) =>
    eventually(async () => {
      const entries = (await http<UsagePage>('GET', `${stack.api}/v1/usage`, { key })).body.entries;
      return entries.length === 1 ? entries[0] : undefined;
    });

  it('lists the provider’s models through the SDK, in Anthropic’s shape', async () => {
    const ola = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const models: Anthropic.ModelInfo[] = [];
    for await (const model of sdk(ola.key).models.list()) models.push(model);
    expect(models.find((m) => m.id === 'sim-1')).toMatchObject({ type: 'model', id: 'sim-1', display_name: 'sim-1' });
    const refused = await sdk('qv_not_a_key_0000000000').models.list().catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(Anthropic.AuthenticationError);
    // x-api-key as a hostile client fills it: empty, with a space, a 10,000-character run, a valid key's prefix.
    for (const apiKey of ['', 'qv_a b', 'k'.repeat(10_000), ola.key.slice(0, 10)]) {
      const res = await http<{ type: string; error: { type: string } }>('GET', `${stack.api}/v1/models`, { headers: { 'x-api-key': apiKey, 'anthropic-version': '2023-06-01' } });
      expect({ length: apiKey.length, status: res.status, type: res.body.error.type }).toEqual({ length: apiKey.length, status: 401, type: 'authentication_error' });
    }
  });

  it('answers through the SDK: the text, its usage, one ledger entry, the quota settled to it', async () => {
    const ann = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const marker = `anthropic-plain-${Date.now()}`;
    const message = await sdk(ann.key).messages.create({ model: 'sim-1', max_tokens: 60, system: 'Answer briefly.', messages: [{ role: 'user', content: `Quota Vault settles every call to the token. ${marker}` }] });
    expect(message.type).toBe('message');
    expect(message.role).toBe('assistant');
    expect(message.content[0].type).toBe('text');
    expect((message.content[0] as Anthropic.TextBlock).text.length).toBeGreaterThan(0);
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(await simulatorCalls(stack.services['llm-simulator']!.url, marker)).toBe(1);
    const entry = await ledgerEntry(ann.key);
    expect(entry).toMatchObject({ kind: 'completed', charged: true, promptTokens: message.usage.input_tokens, completionTokens: message.usage.output_tokens });
    expect(await tokensUsed(ann.key)).toBe(message.usage.input_tokens + message.usage.output_tokens);
  });

  it("streams through the SDK: Anthropic's events, the text in deltas, the usage at the end, settled to it once", async () => {
    const bea = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const stream = sdk(bea.key).messages.stream({ model: 'sim-1', max_tokens: 80, messages: [{ role: 'user', content: [{ type: 'text', text: `Streams pass through as they arrive. anthropic-stream-${Date.now()}` }] }] });
    const types: string[] = [];
    let text = '';
    let startedWith: number | undefined;
    stream.on('streamEvent', (event) => {
      types.push(event.type);
      if (event.type === 'message_start') startedWith = event.message.usage.input_tokens;
    });
    stream.on('text', (delta) => (text += delta));
    const message = await stream.finalMessage();
    expect(types[0]).toBe('message_start');
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(types.filter((t) => t === 'content_block_delta').length).toBeGreaterThan(0);
    expect((message.content[0] as Anthropic.TextBlock).text).toBe(text);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    // message_start reports the prompt as charged: the simulator's count is the same tokenizer's.
    expect(startedWith).toBe(message.usage.input_tokens);
    const entry = await ledgerEntry(bea.key);
    expect(entry).toMatchObject({ promptTokens: message.usage.input_tokens, completionTokens: message.usage.output_tokens });
    expect(await tokensUsed(bea.key)).toBe(message.usage.input_tokens + message.usage.output_tokens);
  });

  it('a second identical call of a pro user with X-QV-Cache is a hit, also replayed as a stream, settled to 0 tokens', async () => {
    const fay = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const client = new Anthropic({ apiKey: fay.key, baseURL: stack.api, maxRetries: 0, defaultHeaders: { 'X-QV-Cache': 'content' } });
    const marker = `anthropic-cache-${Date.now()}`;
    const ask = { model: 'sim-1', max_tokens: 40, messages: [{ role: 'user' as const, content: `The same question twice. ${marker}` }] };
    const first = await client.messages.create(ask).withResponse();
    expect(first.response.headers.get('x-qv-cache')).toBe('miss');
    const second = await client.messages.create(ask).withResponse();
    expect(second.response.headers.get('x-qv-cache')).toBe('hit');
    expect(second.data.content).toEqual(first.data.content);
    expect(second.data.usage).toEqual({ input_tokens: 0, output_tokens: 0 });
    const streamed = await client.messages.stream(ask).finalMessage();
    expect(streamed.content).toEqual(first.data.content);
    expect(await simulatorCalls(stack.services['llm-simulator']!.url, marker)).toBe(1);
    expect(await tokensUsed(fay.key)).toBe(first.data.usage.input_tokens + first.data.usage.output_tokens);
  });

  it('tool use through the SDK: a tool_use block, unstreamed and streamed, the tool_result answered, each call settled', async () => {
    const cal = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const marker = `anthropic-tools-${Date.now()}`;
    const tools: Anthropic.Tool[] = [{ name: 'get_weather', description: 'The weather in a city, now.', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];
    const ask = { model: 'sim-1', max_tokens: 80, tools, tool_choice: { type: 'tool' as const, name: 'get_weather' }, messages: [{ role: 'user' as const, content: `Weather in Oslo? ${marker}` }] };
    const expectCall = (message: Anthropic.Message) => {
      expect(message.stop_reason).toBe('tool_use');
      const use = message.content.find((block): block is Anthropic.ToolUseBlock => block.type === 'tool_use');
      expect(use).toMatchObject({ name: 'get_weather', input: { input: `Weather in Oslo? ${marker}` } });
      return use!;
    };
    const first = await sdk(cal.key).messages.create(ask);
    const use = expectCall(first);
    const streamed = await sdk(cal.key).messages.stream(ask).finalMessage();
    expectCall(streamed);
    expect(streamed.usage.output_tokens).toBe(first.usage.output_tokens);

    // The tool's answer goes back as a tool_result; with the choice left to the model, it answers in text.
    const answer = await sdk(cal.key).messages.create({
      model: 'sim-1',
      max_tokens: 80,
      tools,
      messages: [...ask.messages, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'Sunny, 4 °C' }] }],
    });
    expect(answer.stop_reason).toBe('end_turn');
    expect(answer.content[0].type).toBe('text');
    // The tools and the earlier call were charged as prompt: the estimate bounds what the provider billed.
    expect(answer.usage.input_tokens).toBeGreaterThan(first.usage.input_tokens);
    const entries = await eventually(async () => {
      const all = (await http<UsagePage>('GET', `${stack.api}/v1/usage`, { key: cal.key })).body.entries;
      return all.length === 3 ? all : undefined;
    });
    expect(entries.every((e) => e.kind === 'completed' && e.charged)).toBe(true);
    expect(await tokensUsed(cal.key)).toBe([first, streamed, answer].reduce((sum, m) => sum + m.usage.input_tokens + m.usage.output_tokens, 0));
    const above = await stack.db.query<{ n: string }>('SELECT count(*)::text AS n FROM ai_usage_reservations WHERE user_id = $1 AND actual_tokens > estimated_tokens', [cal.id]);
    expect(above[0].n).toBe('0');
  });

  it('an image through the SDK: answered, billed as the provider bills an image, within the charge', async () => {
    const dee = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const marker = `anthropic-image-${Date.now()}`;
    const pixel = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
    const message = await sdk(dee.key).messages.create({
      model: 'sim-1',
      max_tokens: 40,
      messages: [{ role: 'user', content: [{ type: 'text', text: `What is in it? ${marker}` }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: pixel } }] }],
    });
    expect(message.content[0].type).toBe('text');
    expect(message.usage.input_tokens).toBeGreaterThan(765); // the simulator bills an image as gpt-4o a 1024×1024 one
    const [reservation] = await stack.db.query<{ estimated_tokens: number; actual_tokens: number }>('SELECT estimated_tokens, actual_tokens FROM ai_usage_reservations WHERE user_id = $1', [dee.id]);
    await eventually(async () => (await tokensUsed(dee.key)) === message.usage.input_tokens + message.usage.output_tokens);
    expect(reservation.estimated_tokens).toBeGreaterThanOrEqual(message.usage.input_tokens + message.usage.output_tokens);
  });

  it("refuses as the SDK's own errors, with Quota Vault's code: the budget (429), a wrong key (401), a bad body (400)", async () => {
    const cat = await createUser(stack.api, stack.adminKey, 'pro_monthly', { tokensPerDay: 5 });
    const refusal = await sdk(cat.key).messages.create({ model: 'sim-1', max_tokens: 50, messages: [{ role: 'user', content: 'A prompt longer than five tokens, so nothing is left for an answer.' }] }).catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(Anthropic.RateLimitError);
    expect((refusal as InstanceType<typeof Anthropic.RateLimitError>).error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', code: 'DAILY_TOKEN_QUOTA_EXCEEDED' } });
    expect(await tokensUsed(cat.key)).toBe(0);

    const wrongKey = await sdk('qv_not_a_key').messages.create({ model: 'sim-1', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((err: unknown) => err);
    expect(wrongKey).toBeInstanceOf(Anthropic.AuthenticationError);
    // x-api-key as a hostile client fills it: empty, with a space, a 10,000-character run, a valid key's prefix.
    for (const apiKey of ['', 'qv_a b', 'k'.repeat(10_000), cat.key.slice(0, 10)]) {
      const res = await http<{ type: string; error: { type: string } }>('POST', `${stack.api}/v1/messages`, { headers: { 'x-api-key': apiKey }, body: { model: 'sim-1', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] } });
      expect({ length: apiKey.length, status: res.status, type: res.body.error.type }).toEqual({ length: apiKey.length, status: 401, type: 'authentication_error' });
    }
    expect(await tokensUsed(cat.key)).toBe(0);

    const dan = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const document = { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'a contract' } } as const;
    for (const body of [{ messages: [{ role: 'user' as const, content: 'no max_tokens' }] }, { max_tokens: 5, messages: [{ role: 'user' as const, content: [document] }] }]) {
      const bad = await sdk(dan.key).messages.create({ model: 'sim-1', ...body } as Anthropic.MessageCreateParamsNonStreaming).catch((err: unknown) => err);
      expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
      expect((bad as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ error: { type: 'invalid_request_error', code: 'VALIDATION_FAILED' } });
    }
    expect(await tokensUsed(dan.key)).toBe(0);
  });
  it('whatever the body and headers: never a 5xx, a 4xx changes nothing, every 200 is settled (property)', async () => {
    const eve = await createUser(stack.api, stack.adminKey, 'pro_monthly', { callsPerHour: null, concurrentJobs: null, tokensPerDay: null, tokensPerMonth: null });
    const content = fc.oneof(fc.string({ minLength: 1, maxLength: 60 }), fc.array(fc.record({ type: fc.constant('text'), text: fc.string({ minLength: 1, maxLength: 30 }) }), { minLength: 1, maxLength: 2 }));
    // Mostly a valid call (so that the 200 path runs too), else a plausible shape with any field hostile.
    const messages = fc.array(fc.record({ role: fc.constantFrom('user', 'assistant'), content }), { minLength: 1, maxLength: 3 });
    const validBody = fc.record(
      {
        model: fc.constant('sim-1'),
        max_tokens: fc.integer({ min: 1, max: 64 }),
        // Now and then a conversation with a tool_use and its tool_result.
        messages: fc.tuple(messages, fc.option(anthropicTools.turn, { freq: 3 })).map(([m, turn]) => (turn ? [...m, ...turn] : m)),
        system: content,
        stream: fc.boolean(),
        tools: anthropicTools.valid,
        tool_choice: anthropicTools.choice,
      },
      { requiredKeys: ['max_tokens', 'messages'] },
    );
    const hostileBody = bodyOf({
      model: fc.constantFrom('sim-1', 'claude-sonnet'),
      max_tokens: fc.oneof(fc.integer({ min: 1, max: 64 }), hostileNumber),
      messages: fc.array(fc.record({ role: fc.oneof(fc.constantFrom('user', 'assistant', 'system'), hostileString), content: fc.oneof(content, hostileValue, fc.array(fc.oneof(fc.record({ type: fc.constantFrom('text', 'image', 'tool_use'), text: hostileString }), anthropicTools.hostileBlock), { maxLength: 2 })) }), { minLength: 1, maxLength: 3 }),
      system: fc.oneof(content, hostileValue),
      stream: fc.oneof(fc.boolean(), hostileValue),
      temperature: hostileNumber,
      stop_sequences: fc.oneof(fc.array(hostileString, { maxLength: 3 }), hostileValue),
      tools: anthropicTools.hostile,
      tool_choice: hostileValue,
    });
    const call = fc.record({ body: fc.oneof({ arbitrary: validBody, weight: 3 }, { arbitrary: hostileBody, weight: 1 }), headers: chatHeaders });
    expect(await hostileCallsHold(stack, '/v1/messages', eve, call)).toBeGreaterThan(0);
  }, 180_000);
});
