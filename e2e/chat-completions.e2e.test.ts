import { countChatTokensBounded, countTokensBounded } from '@qv/llm';
import type { CacheStats, ErrorBody, ReconciliationResponse } from '@qv/contracts';
import { createUser, eventually, http, simulatorCalls, startStack, type Stack } from '@qv/testing';
import fc from 'fast-check';
import { once } from 'node:events';
import { connect } from 'node:net';
import OpenAI, { APIError } from 'openai';
import { bodyOf, hostileNumber, hostileString, hostileValue, openAiTools } from './support/hostile';
import { entriesOf as callEntries, openAiSdk, quotaOf, reservationOf, settledEntry as settled } from './support/chat';
import { chatHeaders, hostileCallsHold } from './support/hostile-calls';

/**
 * POST /v1/chat/completions (issue 15) through the six services as processes, spoken to by the
 * official `openai` SDK with only its base URL and key changed: answers and usage, one ledger entry
 * and the quota settled to the provider's usage, streamed or not; the exact charge under 200
 * concurrent calls; a stream the client cuts still settled once, drift 0; the cache per user and
 * plan; Idempotency-Key; OpenAI-shaped errors the SDK raises as its own classes.
 */
describe('OpenAI-compatible chat completions', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const sdk = (apiKey: string, headers: Record<string, string> = {}) => openAiSdk(stack, apiKey, headers);
  const user = (text: string) => [{ role: 'user' as const, content: text }];
  const simCalls = (marker: string) => simulatorCalls(stack.services['llm-simulator']!.url, marker);
  const quota = (key: string) => quotaOf(stack, key);
  const entriesOf = (key: string, callId: string) => callEntries(stack, key, callId);
  const settledEntry = (key: string, callId: string) => settled(stack, key, callId);
  const reservation = (callId: string) => reservationOf(stack, callId);
  const drift = async (userId: string) => (await http<ReconciliationResponse>('GET', `${stack.api}/admin/reconciliation?userId=${userId}`, { key: stack.adminKey })).body;

  it('refuses hostile bodies with 400 before any charge or provider call: NUL, lone surrogates, integers past 2^31', async () => {
    const eve = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const before = await quota(eve.key);
    const marker = `hostile-${Date.now()}`;
    const bodies = [
      { messages: user(`${marker} a\u0000b`) },
      { messages: user(`${marker} lone \ud800 surrogate`) },
      { model: 'sim-1\u0000', messages: user(marker) },
      { messages: [{ role: 'user', content: marker, name: '\udc00' }] },
      { messages: user(marker), max_tokens: 2 ** 31 },
      { messages: user(marker), max_completion_tokens: 2 ** 53 },
      { messages: user(marker), max_tokens: -1 },
      { messages: user(marker), n: 2 },
      { messages: [] },
      { messages: 'a'.repeat(100_000) },
    ];
    const answers = [];
    for (const body of bodies) {
      // The edge guard's refusals are in the API's error shape, the route's in OpenAI's.
      const res = await http<{ error: ErrorBody['error'] | OpenAI.ErrorObject }>('POST', `${stack.api}/v1/chat/completions`, { key: eve.key, body });
      answers.push({ status: res.status, code: res.body?.error?.code });
    }
    // NUL and lone surrogates are refused by the edge guard before the route runs, in the API's own
    // error shape; the rest by the route, OpenAI-shaped. Both carry the code where the SDK reads it.
    expect(answers).toEqual(bodies.map(() => ({ status: 400, code: 'VALIDATION_FAILED' })));
    expect(await quota(eve.key)).toEqual(before);
    expect(await stack.db.query('SELECT 1 FROM ai_usage_reservations WHERE user_id = $1', [eve.id])).toEqual([]);
    expect(await simCalls(marker)).toBe(0);
  });

  it('whatever the body and headers: never a 5xx, a 4xx changes nothing, every 200 is settled (property)', async () => {
    const mallory = await createUser(stack.api, stack.adminKey, 'pro_monthly', { callsPerHour: null, concurrentJobs: null, tokensPerDay: null, tokensPerMonth: null });
    const message = fc.record(
      {
        role: fc.oneof(fc.constantFrom('system', 'user', 'assistant', 'developer', 'tool'), hostileString),
        content: fc.oneof(fc.string({ maxLength: 60 }), hostileValue, fc.array(fc.record({ type: fc.constantFrom('text', 'image_url'), text: hostileString }), { maxLength: 2 })),
        name: hostileString,
      },
      { requiredKeys: ['role', 'content'] },
    );
    // Mostly a valid call (so that the 200 path runs too), else a plausible shape with any field hostile.
    const messages = fc.array(fc.record({ role: fc.constantFrom('system', 'user'), content: fc.string({ minLength: 1, maxLength: 60 }) }), { minLength: 1, maxLength: 3 });
    const validBody = fc.record(
      {
        model: fc.constant('sim-1'),
        // Now and then a conversation that called a function and has its result.
        messages: fc.tuple(messages, fc.option(openAiTools.turn, { freq: 3 })).map(([m, turn]) => (turn ? [...m, ...turn] : m)),
        max_tokens: fc.integer({ min: 1, max: 64 }),
        stream: fc.boolean(),
        stream_options: fc.record({ include_usage: fc.boolean() }),
        tools: openAiTools.valid,
        tool_choice: openAiTools.choice,
      },
      { requiredKeys: ['messages'] },
    );
    const hostileBody = bodyOf({
      model: fc.constantFrom('sim-1', 'gpt-4o-mini'),
      messages: fc.array(message, { minLength: 1, maxLength: 3 }),
      max_tokens: fc.oneof(fc.integer({ min: 1, max: 64 }), hostileNumber),
      max_completion_tokens: hostileNumber,
      stream: fc.boolean(),
      stream_options: fc.oneof(fc.record({ include_usage: fc.boolean() }), hostileValue),
      temperature: hostileNumber,
      n: hostileNumber,
      tools: openAiTools.hostile,
      tool_choice: hostileValue,
    });
    const call = fc.record({
      body: fc.oneof({ arbitrary: validBody, weight: 3 }, { arbitrary: hostileBody, weight: 1 }),
      headers: chatHeaders,
    });
    expect(await hostileCallsHold(stack, '/v1/chat/completions', mallory, call)).toBeGreaterThan(0);
  }, 180_000);

  it('lists the provider’s models through the SDK, with a user’s key only, charging nothing', async () => {
    const una = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const ids: string[] = [];
    for await (const model of sdk(una.key).models.list()) ids.push(model.id);
    expect(ids).toContain('sim-1');
    const refused = await sdk('qv_not_a_key_0000000000').models.list().catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((refused as APIError).code).toBe('UNAUTHENTICATED');
    expect((await quota(una.key)).tokensPerDay.used).toBe(0);
  });

  it('answers unstreamed through the SDK; one ledger entry; the quota settled to the reported usage', async () => {
    const alice = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const messages = user('Quota Vault charges every call exactly. marker-plain-1');
    const { data, response } = await sdk(alice.key).chat.completions.create({ model: 'sim-1', messages, max_tokens: 40 }).withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0].message.content).toBe('echo: Quota Vault charges every call exactly. marker-plain-1');
    expect(data.choices[0].finish_reason).toBe('stop');
    expect(data.usage!.prompt_tokens).toBe(countChatTokensBounded(messages));
    expect(data.usage!.completion_tokens).toBeGreaterThan(0);
    // Every field of the provider's answer comes through, those Quota Vault does not read included.
    expect(data.system_fingerprint).toBe('fp_qv_sim');
    expect(data.service_tier).toBe('default');
    expect(data.usage!.prompt_tokens_details).toEqual({ cached_tokens: 0, audio_tokens: 0 });
    expect(data.usage!.completion_tokens_details).toMatchObject({ reasoning_tokens: 0 });
    const callId = response.headers.get('x-qv-call-id')!;
    expect(callId).toMatch(/^chc_/);
    expect(response.headers.get('x-qv-max-tokens')).toBe('40');
    expect(response.headers.get('x-qv-max-tokens-clamped')).toBeNull();
    expect(response.headers.get('x-ai-quota-tokens-limit')).toBe('1000000');
    expect(response.headers.get('x-qv-cache')).toBe('off');

    const entry = await settledEntry(alice.key, callId);
    expect(entry).toMatchObject({ kind: 'completed', model: 'sim-1', promptTokens: data.usage!.prompt_tokens, completionTokens: data.usage!.completion_tokens, totalTokens: data.usage!.total_tokens, charged: true, cacheHit: false });
    expect(await reservation(callId)).toMatchObject({ status: 'SETTLED', actual_tokens: data.usage!.total_tokens, estimated_tokens: data.usage!.prompt_tokens + 40 });
    const after = await quota(alice.key);
    expect(after.tokensPerDay.used).toBe(data.usage!.total_tokens);
    expect(after.tokensPerMonth.used).toBe(data.usage!.total_tokens);
    expect(after.enrichmentsPerDay.used).toBe(1);
    expect(after.concurrentJobs.used).toBe(0);
  });

  it('streams through the SDK: chunks, the usage in the last chunk, settled to it once; usage hidden when not asked for but settled all the same', async () => {
    const bob = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const messages = user('Streaming keeps the same exact charge. marker-stream-2 [sim:chunk_ms=5]');
    const { data: stream, response } = await sdk(bob.key).chat.completions.create({ model: 'sim-1', messages, max_tokens: 60, stream: true, stream_options: { include_usage: true } }).withResponse();
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe('echo: Streaming keeps the same exact charge. marker-stream-2');
    expect(chunks.filter((c) => c.choices[0]?.delta?.content).length).toBeGreaterThan(3);
    const usage = chunks[chunks.length - 1].usage!;
    expect(chunks[chunks.length - 1].choices).toEqual([]);
    expect(usage.prompt_tokens).toBe(countChatTokensBounded(messages));
    const callId = response.headers.get('x-qv-call-id')!;
    const entry = await settledEntry(bob.key, callId);
    expect(entry).toMatchObject({ promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens, charged: true });

    const { data: bare, response: bareResponse } = await sdk(bob.key).chat.completions.create({ model: 'sim-1', messages, max_tokens: 60, stream: true }).withResponse();
    const bareChunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of bare) bareChunks.push(chunk);
    expect(bareChunks.some((c) => c.usage)).toBe(false);
    expect(bareChunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe(text);
    const bareEntry = await settledEntry(bob.key, bareResponse.headers.get('x-qv-call-id')!);
    expect(bareEntry.totalTokens).toBe(usage.total_tokens);
    await eventually(async () => (await quota(bob.key)).tokensPerDay.used === 2 * usage.total_tokens);
    expect((await drift(bob.id)).totalDrift).toBe(0);
  });

  it('200 concurrent calls for one user with budget for 20: exactly 20 answered, 180 RateLimitErrors DAILY_QUOTA_EXCEEDED, tokens never above the limit', async () => {
    const carol = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const patched = await http('PATCH', `${stack.api}/admin/users/${carol.id}`, { key: stack.adminKey, body: { overrides: { enrichmentsPerDay: 20, concurrentJobs: 400, callsPerHour: 1000, tokensPerDay: 5000 } } });
    expect(patched.status).toBe(200);
    const client = sdk(carol.key);
    const messages = user('Two hundred at once, twenty allowed. marker-burst-3 [sim:latency_ms=100]');
    const started = Date.now();
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, () =>
        client.chat.completions.create({ model: 'sim-1', messages, max_tokens: 30 }).then(
          (answer) => ({ ok: true as const, answer }),
          (err: unknown) => ({ ok: false as const, err }),
        ),
      ),
    );
    console.log(`200 concurrent chat calls for one user: ${Date.now() - started} ms`);
    const answered = outcomes.filter((o) => o.ok);
    const refused = outcomes.filter((o) => !o.ok).map((o) => (o as { err: unknown }).err);
    expect(answered).toHaveLength(20);
    expect(refused).toHaveLength(180);
    for (const err of refused) {
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect({ status: (err as APIError).status, code: (err as APIError).code, type: (err as APIError).type }).toEqual({ status: 429, code: 'DAILY_QUOTA_EXCEEDED', type: 'rate_limit_error' });
    }
    expect((refused[0] as APIError).headers?.get('x-ai-quota-remaining')).toBe('0');
    expect(await simCalls('marker-burst-3')).toBe(20);

    const total = answered.reduce((sum, o) => sum + (o as { answer: OpenAI.Chat.Completions.ChatCompletion }).answer.usage!.total_tokens, 0);
    const settled = await eventually(async () => {
      const q = await quota(carol.key);
      return q.concurrentJobs.used === 0 && q.tokensPerDay.used === total ? q : undefined;
    });
    expect(settled.tokensPerDay.used).toBeLessThanOrEqual(5000);
    expect(settled.enrichmentsPerDay.used).toBe(20);
    expect((await drift(carol.id)).totalDrift).toBe(0);
  });

  it.each(['negative', 'huge', 'fraction', 'text'])('a provider whose usage is no count ([sim:usage=%s]): settled to the bounded counts, streamed or not, never below 0', async (kind) => {
    const gus = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const content = `A provider reports a usage that is no count. marker-usage-${kind} [sim:usage=${kind}]`;
    const prompt = countChatTokensBounded(user(content));
    const plain = await sdk(gus.key).chat.completions.create({ model: 'sim-1', messages: user(content), max_tokens: 40 }).withResponse();
    const plainId = plain.response.headers.get('x-qv-call-id')!;
    const streamed = await sdk(gus.key).chat.completions.create({ model: 'sim-1', messages: user(content), max_tokens: 40, stream: true }).withResponse();
    let text = '';
    for await (const chunk of streamed.data) text += chunk.choices[0]?.delta?.content ?? '';
    const streamedId = streamed.response.headers.get('x-qv-call-id')!;
    const answer = countTokensBounded(plain.data.choices[0].message.content ?? '');
    expect(countTokensBounded(text)).toBe(answer);
    for (const callId of [plainId, streamedId]) {
      expect(await settledEntry(gus.key, callId)).toMatchObject({ kind: 'completed', promptTokens: prompt, completionTokens: answer, charged: true });
      expect(await reservation(callId)).toMatchObject({ status: 'SETTLED', actual_tokens: prompt + answer });
    }
    expect((await quota(gus.key)).tokensPerDay.used).toBe(2 * (prompt + answer));
    expect((await drift(gus.id)).totalDrift).toBe(0);
  });

  it('a streaming client that stops reading is disconnected once it falls far behind; the call is read to its end and settled', async () => {
    const ivy = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    // A 100,000-token answer (21.5 MB of events from the simulator) for a client that reads its first piece and then nothing.
    const body = JSON.stringify({ model: 'sim-1', messages: user('A reader who stops reading. marker-slow-9 [sim:cut_first=1]'), max_tokens: 100_000, stream: true });
    const { hostname, port } = new URL(stack.api);
    const socket = connect(Number(port), hostname);
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${ivy.key}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const [first] = (await once(socket, 'data')) as [Buffer];
    socket.pause();
    const callId = /x-qv-call-id: (chc_\S+)\r\n/i.exec(first.toString('latin1'))?.[1];
    expect(callId).toBeDefined();
    const entry = await settledEntry(ivy.key, callId!);
    expect(entry).toMatchObject({ kind: 'completed', charged: true, completionTokens: 100_000 }); // the provider's whole answer
    // Read on now: what the kernel held, then the end the server gave it — not the rest of the answer.
    let rest = '';
    socket.on('data', (piece: Buffer) => (rest += piece.toString('latin1')));
    socket.on('error', () => undefined); // a reset is one way to be let go
    const closed = once(socket, 'close');
    socket.resume();
    await closed;
    expect(first.length + rest.length).toBeLessThan(4_000_000);
    expect(rest).not.toContain('data: [DONE]');
    expect(await reservation(callId!)).toMatchObject({ status: 'SETTLED', actual_tokens: entry.totalTokens });
    expect((await drift(ivy.id)).totalDrift).toBe(0);
  }, 60_000);

  it('a stream the client cuts half way is settled to what the provider produced, in the ledger once, drift 0', async () => {
    const dave = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const messages = user('A long answer the reader leaves before its end, word by word, so that the stream is cut half way. marker-cut-4 [sim:chunk_ms=60]');
    const controller = new AbortController();
    const { data: stream, response } = await sdk(dave.key).chat.completions.create({ model: 'sim-1', messages, max_tokens: 100, stream: true }, { signal: controller.signal }).withResponse();
    const callId = response.headers.get('x-qv-call-id')!;
    let received = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content) received++;
      if (received === 5) {
        controller.abort(); // the connection goes; the SDK ends the iteration
        break;
      }
    }
    expect(received).toBe(5);

    // What the provider produces for the same call, in full.
    const direct = (await http<OpenAI.Chat.Completions.ChatCompletion>('POST', `${stack.services['llm-simulator']!.url}/v1/chat/completions`, { body: { model: 'sim-1', messages: messages.map((m) => ({ ...m, content: m.content.replace('[sim:chunk_ms=60]', '') })), max_tokens: 100 } })).body;
    const entry = await settledEntry(dave.key, callId);
    expect(entry).toMatchObject({ kind: 'completed', charged: true, promptTokens: countChatTokensBounded(messages), completionTokens: direct.usage!.completion_tokens });
    expect(await reservation(callId)).toMatchObject({ status: 'SETTLED', actual_tokens: entry.totalTokens });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await entriesOf(dave.key, callId)).toHaveLength(1);
    expect((await quota(dave.key)).tokensPerDay.used).toBe(entry.totalTokens);
    const reconciliation = await drift(dave.id);
    expect(reconciliation.totalDrift).toBe(0);
    expect(reconciliation.rows).toEqual([expect.objectContaining({ userId: dave.id, drift: 0, reservedTokens: 0, ledgerTokens: entry.totalTokens })]);
  });

  it('a second identical call of a pro user is a cache hit (also replayed as a stream); never across users; never on free', async () => {
    const erin = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const frank = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const free = await createUser(stack.api, stack.adminKey, 'free');
    const cached = { 'X-QV-Cache': 'content' };
    const messages = user('Cache me once, answer twice. marker-cache-5');
    const ask = (key: string) => sdk(key, cached).chat.completions.create({ model: 'sim-1', messages, max_tokens: 40 }).withResponse();

    const first = await ask(erin.key);
    expect(first.response.headers.get('x-qv-cache')).toBe('miss');
    const second = await ask(erin.key);
    expect(second.response.headers.get('x-qv-cache')).toBe('hit');
    expect(second.data.choices[0].message.content).toBe(first.data.choices[0].message.content);
    expect(second.data.usage).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
    expect(Number(second.response.headers.get('x-qv-cache-tokens-saved'))).toBe(first.data.usage!.total_tokens);
    const hitEntry = await settledEntry(erin.key, second.response.headers.get('x-qv-call-id')!);
    expect(hitEntry).toMatchObject({ cacheHit: true, cacheTier: 'content', totalTokens: 0, tokensSaved: first.data.usage!.total_tokens, charged: true });

    const { data: replay, response: replayResponse } = await sdk(erin.key, cached).chat.completions.create({ model: 'sim-1', messages, max_tokens: 40, stream: true }).withResponse();
    const replayed: string[] = [];
    for await (const chunk of replay) replayed.push(chunk.choices[0]?.delta?.content ?? '');
    expect(replayResponse.headers.get('x-qv-cache')).toBe('hit');
    expect(replayed.join('')).toBe(first.data.choices[0].message.content);
    expect(await simCalls('marker-cache-5')).toBe(1);

    expect((await ask(frank.key)).response.headers.get('x-qv-cache')).toBe('miss');
    expect((await ask(free.key)).response.headers.get('x-qv-cache')).toBe('off');
    expect((await ask(free.key)).response.headers.get('x-qv-cache')).toBe('off');
    expect(await simCalls('marker-cache-5')).toBe(4); // erin once, frank once, the free user twice
    await eventually(async () => (await quota(erin.key)).tokensPerDay.used === first.data.usage!.total_tokens);
  });

  it("the chat path's cache, run in api-service, is cache-service's: its hits in the stats, its entries purged there", async () => {
    const hank = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const cached = { 'X-QV-Cache': 'content' };
    const messages = user('Purged between the second and the third call. marker-cache-purge');
    const ask = () => sdk(hank.key, cached).chat.completions.create({ model: 'sim-1', messages, max_tokens: 40 }).withResponse();
    const contentHits = async () => (await http<CacheStats>('GET', `${stack.api}/admin/cache/stats`, { key: stack.adminKey })).body.tiers.content.hits;

    const hitsBefore = await contentHits();
    expect((await ask()).response.headers.get('x-qv-cache')).toBe('miss');
    expect((await ask()).response.headers.get('x-qv-cache')).toBe('hit');
    expect(await contentHits()).toBe(hitsBefore + 1);
    const purged = await http('POST', `${stack.api}/admin/cache/purge`, { key: stack.adminKey, body: { tier: 'content', userId: hank.id } });
    expect(purged).toMatchObject({ status: 200, body: { purged: 1 } });
    expect((await ask()).response.headers.get('x-qv-cache')).toBe('miss');
    expect(await simCalls('marker-cache-purge')).toBe(2);
  });

  it('Idempotency-Key: a retried call is answered again without a second charge or provider call', async () => {
    const gina = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const messages = user('Retried once, charged once. marker-idem-6');
    const client = sdk(gina.key, { 'Idempotency-Key': 'chat-retry-1' });
    const first = await client.chat.completions.create({ model: 'sim-1', messages, max_tokens: 40 }).withResponse();
    const again = await client.chat.completions.create({ model: 'sim-1', messages, max_tokens: 40 }).withResponse();
    expect(again.response.headers.get('idempotent-replayed')).toBe('true');
    expect(again.data).toEqual(first.data);
    expect(await simCalls('marker-idem-6')).toBe(1);
    const callId = first.response.headers.get('x-qv-call-id')!;
    expect(again.response.headers.get('x-qv-call-id')).toBe(callId);
    await settledEntry(gina.key, callId);
    const q = await quota(gina.key);
    expect(q.enrichmentsPerDay.used).toBe(1);
    expect(q.tokensPerDay.used).toBe(first.data.usage!.total_tokens);

    const other = await client.chat.completions.create({ model: 'sim-1', messages: user('another body'), max_tokens: 40 }).catch((err: unknown) => err);
    expect(other).toBeInstanceOf(OpenAI.UnprocessableEntityError);
    expect((other as APIError).code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('clamps max_tokens to the token budget left after the prompt, and refuses with DAILY_TOKEN_QUOTA_EXCEEDED when nothing is left', async () => {
    const hank = await createUser(stack.api, stack.adminKey, 'pro_monthly', { tokensPerDay: 60 });
    const messages = user('Budget nearly spent. marker-clamp-7');
    const prompt = countChatTokensBounded(messages);
    const { data, response } = await sdk(hank.key).chat.completions.create({ model: 'sim-1', messages, max_tokens: 1000 }).withResponse();
    expect(response.headers.get('x-qv-max-tokens-clamped')).toBe(String(60 - prompt));
    expect(response.headers.get('x-qv-max-tokens')).toBe(String(60 - prompt));
    expect(data.usage!.total_tokens).toBeLessThanOrEqual(60);
    await settledEntry(hank.key, response.headers.get('x-qv-call-id')!);

    const patched = await http('PATCH', `${stack.api}/admin/users/${hank.id}`, { key: stack.adminKey, body: { overrides: { tokensPerDay: data.usage!.total_tokens + prompt } } });
    expect(patched.status).toBe(200);
    const refused = await sdk(hank.key).chat.completions.create({ model: 'sim-1', messages, max_tokens: 10 }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect((refused as APIError).code).toBe('DAILY_TOKEN_QUOTA_EXCEEDED');
    expect((refused as APIError).headers?.get('retry-after')).toMatch(/^[0-9]+$/);
    expect((refused as APIError).headers?.get('x-ai-quota-tokens-remaining')).toBe(String(prompt));
    expect(await simCalls('marker-clamp-7')).toBe(1);
  });

  it('a provider that fails: retried, then 503 SERVICE_UNAVAILABLE, the reservation released and a failed entry in the ledger; a 4xx is not retried', async () => {
    const jane = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const failing = await sdk(jane.key).chat.completions.create({ model: 'sim-1', messages: user('Always failing. marker-fail-8 [sim:status=500]'), max_tokens: 20 }).catch((err: unknown) => err);
    expect(failing).toBeInstanceOf(OpenAI.InternalServerError);
    expect({ status: (failing as APIError).status, code: (failing as APIError).code }).toEqual({ status: 503, code: 'SERVICE_UNAVAILABLE' });
    expect(await simCalls('marker-fail-8')).toBe(3);
    const callId = (failing as APIError).headers?.get('x-qv-call-id') ?? null;
    expect(callId).toBeNull(); // an error answer carries the quota headers, not the call's
    const [row] = await stack.db.query<{ item_id: string }>('SELECT item_id FROM ai_usage_reservations WHERE user_id = $1', [jane.id]);
    const entry = await settledEntry(jane.key, row.item_id);
    expect(entry).toMatchObject({ kind: 'failed', totalTokens: 0, charged: true });
    expect(await reservation(row.item_id)).toMatchObject({ status: 'RELEASED' });
    const q = await quota(jane.key);
    expect({ tokens: q.tokensPerDay.used, inFlight: q.concurrentJobs.used, calls: q.enrichmentsPerDay.used }).toEqual({ tokens: 0, inFlight: 0, calls: 0 });

    const refused = await sdk(jane.key).chat.completions.create({ model: 'sim-1', messages: user('Bad request. marker-bad-9 [sim:status=400]'), max_tokens: 20 }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as APIError).code).toBe('VALIDATION_FAILED');
    expect(await simCalls('marker-bad-9')).toBe(1);
  });

  it('answers errors in OpenAI’s shape: an unknown key is the SDK’s AuthenticationError, a bad body its BadRequestError with the field as param', async () => {
    const unknown = await sdk('qv_not_a_key').chat.completions.create({ model: 'sim-1', messages: user('x') }).catch((err: unknown) => err);
    expect(unknown).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((unknown as APIError).code).toBe('UNAUTHENTICATED');
    const ivan = await createUser(stack.api, stack.adminKey, 'free');
    const raw = await http<{ error: OpenAI.ErrorObject }>('POST', `${stack.api}/v1/chat/completions`, { key: ivan.key, body: { model: 'sim-1', messages: [{ role: 'robot', content: 'x' }] } });
    expect(raw.status).toBe(400);
    expect(raw.body.error).toMatchObject({ type: 'invalid_request_error', code: 'VALIDATION_FAILED', param: 'messages.0.role' });
    expect((await quota(ivan.key)).enrichmentsPerDay.used).toBe(0);
  });
});
