import { countChatTokensBounded, countTokens, TASKS } from '@qv/llm';
import { startService, type ServiceProcess } from '@qv/testing';
import { SYSTEM_FINGERPRINT } from './routes/chat-completions.routes';

/** The simulator's HTTP contract as a raw client sees it (the SDK path is in libs/llm). */
let sim: ServiceProcess;

beforeAll(async () => {
  sim = await startService('llm-simulator', { SIM_MODEL: 'sim-test', SIM_LATENCY_MS: '20' });
});

afterAll(async () => {
  await sim?.stop();
});

async function post(body: unknown, raw?: string) {
  const res = await fetch(`${sim.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ?? JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

describe('llm-simulator HTTP', () => {
  it('lists its model and serves health, readiness and metrics', async () => {
    expect(await (await fetch(`${sim.url}/v1/models`)).json()).toEqual({
      object: 'list',
      data: [{ id: 'sim-test', object: 'model', created: 0, owned_by: 'qv-llm-simulator' }],
    });
    expect((await fetch(`${sim.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${sim.url}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${sim.url}/metrics`)).text()).toContain('sim_chat_completions_total');
  });

  it('answers in OpenAI’s shape, as SIM_MODEL when no model is named, after SIM_LATENCY_MS', async () => {
    const messages = TASKS.tag.buildMessages({ content: 'Tokens, tokens and quotas.' });
    const started = Date.now();
    const { status, body } = await post({ messages, max_completion_tokens: 60 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(20);
    expect(status).toBe(200);
    expect(body.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(body.object).toBe('chat.completion');
    expect(body.model).toBe('sim-test');
    expect(body.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: '{"tags":["tokens","quotas"]}', refusal: null }, logprobs: null, finish_reason: 'stop' },
    ]);
    const completion = countTokens('{"tags":["tokens","quotas"]}');
    expect(body.usage).toMatchObject({ prompt_tokens: countChatTokensBounded(messages), completion_tokens: completion, total_tokens: countChatTokensBounded(messages) + completion });
    expect(body.usage.prompt_tokens_details).toEqual({ cached_tokens: 0, audio_tokens: 0 });
    expect(body.system_fingerprint).toBe(SYSTEM_FINGERPRINT);
  });

  it('reads text content parts and echoes the requested model', async () => {
    const { body } = await post({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello ' }, { type: 'text', text: 'parts.' }] }], max_tokens: 50 });
    expect(body.model).toBe('gpt-4o-mini');
    expect(body.choices[0].message.content).toBe('echo: Hello parts.');
    expect(body.usage.prompt_tokens).toBe(countChatTokensBounded([{ role: 'user', content: 'Hello parts.' }]));
  });

  it('a 429 directive answers OpenAI’s error body with Retry-After', async () => {
    const { status, headers, body } = await post({ messages: [{ role: 'user', content: 'x [sim:status=429] [sim:retry_after=4]' }] });
    expect(status).toBe(429);
    expect(headers.get('retry-after')).toBe('4');
    expect(body).toEqual({ error: { message: 'Rate limit reached (simulated); retry after 4 s', type: 'requests', param: null, code: 'rate_limit_exceeded' } });
  });

  it('a 503 outage carries the seconds left as Retry-After', async () => {
    const { status, headers, body } = await post({ messages: [{ role: 'user', content: `x [sim:fail_until=${Date.now() + 5000}]` }] });
    expect(status).toBe(503);
    expect(Number(headers.get('retry-after'))).toBeGreaterThanOrEqual(4);
    expect(Number(headers.get('retry-after'))).toBeLessThanOrEqual(5);
    expect(body.error.type).toBe('server_error');
  });

  it.each([
    ['no messages', { messages: [] }, 'messages'],
    ['a bad role', { messages: [{ role: 'robot', content: 'x' }] }, 'messages.0.role'],
    ['max_tokens 0', { messages: [{ role: 'user', content: 'x' }], max_tokens: 0 }, 'max_tokens'],
    ['a non-boolean stream', { messages: [{ role: 'user', content: 'x' }], stream: 'yes' }, 'stream'],
  ])('refuses %s with 400 invalid_request_error', async (_name, payload, param) => {
    const { status, body } = await post(payload);
    expect(status).toBe(400);
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.param).toBe(param);
  });

  it('streams server-sent events with the usage in the last chunk when asked, and the same answer and usage as unstreamed', async () => {
    const messages = [{ role: 'user', content: 'Streaming answers arrive in pieces. [sim:chunk_ms=5]' }];
    const whole = await post({ messages, max_tokens: 50 });
    const res = await fetch(`${sim.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages, max_tokens: 50, stream: true, stream_options: { include_usage: true } }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await res.text()).split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
    expect(events[events.length - 1]).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id)).toBe(true);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const usageChunk = chunks[chunks.length - 1];
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toEqual(whole.body.usage);
    expect(chunks[chunks.length - 2].choices[0].finish_reason).toBe('stop');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(whole.body.choices[0].message.content);
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThan(3);

    const bare = await fetch(`${sim.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages, stream: true }) });
    const bareChunks = (await bare.text()).split('\n\n').filter(Boolean).slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, '')));
    expect(bareChunks.some((c) => c.usage)).toBe(false);
  });

  it('refuses a body that is not JSON, and an unknown route, in OpenAI’s shape', async () => {
    const bad = await post(undefined, '{"messages": [');
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: { message: 'The request body is not valid JSON', type: 'invalid_request_error', param: null, code: null } });
    const missing = await fetch(`${sim.url}/v1/embeddings`, { method: 'POST' });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as any).error.code).toBe('not_found');
  });
});
