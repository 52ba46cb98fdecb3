import { AnthropicMessagesRequest, AppError, type StoredChatCompletion } from '@qv/contracts';
import { AnthropicStream, anthropicError, messageBody, replayAnthropic } from './anthropic-format';
import { toChatRequest } from './anthropic-request';
import { replayEvents, SSE_DONE, sseEvent } from './chat-format';

const completion: StoredChatCompletion = { id: 'chatcmpl-abc', model: 'sim-1', created: 1, content: 'Hello there, world', finishReason: 'length', promptTokens: 12, completionTokens: 4 };

/** The `data` of each event of an Anthropic stream, in order. */
const eventsOf = (stream: string) =>
  stream
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      const [eventLine, dataLine] = block.split('\n');
      const data = JSON.parse(dataLine.slice('data: '.length)) as { type: string };
      expect(eventLine).toBe(`event: ${data.type}`);
      return data;
    });

describe('Anthropic messages over the chat path', () => {
  it('turns the body into the chat request: the system prompt first, text blocks joined, stop for stop_sequences', () => {
    expect(
      toChatRequest({ model: 'sim-1', max_tokens: 50, system: [{ type: 'text', text: 'Be brief.' }], messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }, { role: 'assistant', content: 'c' }], stream: true, stop_sequences: ['END'] }),
    ).toEqual({ model: 'sim-1', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'ab' }, { role: 'assistant', content: 'c' }], max_tokens: 50, stream: true, stream_options: { include_usage: true }, stop: ['END'] });
    expect(toChatRequest({ max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })).toEqual({ messages: [{ role: 'user', content: 'x' }], max_tokens: 5 });
  });

  it("answers a completion as Anthropic's message, finish_reason length as max_tokens", () => {
    expect(messageBody(completion)).toEqual({
      id: 'msg_abc',
      type: 'message',
      role: 'assistant',
      model: 'sim-1',
      content: [{ type: 'text', text: 'Hello there, world' }],
      stop_reason: 'max_tokens',
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 4 },
    });
  });

  it("rewrites the chat path's stream as Anthropic's events, the usage in message_delta", () => {
    const events = eventsOf(replayAnthropic({ ...completion, finishReason: 'stop' }));
    expect(events.map((e) => e.type)).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    const text = events.filter((e) => e.type === 'content_block_delta').map((e) => (e as unknown as { delta: { text: string } }).delta.text).join('');
    expect(text).toBe('Hello there, world');
    expect(events[6]).toEqual({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { input_tokens: 12, output_tokens: 4 } });
    expect((events[0] as unknown as { message: { usage: unknown } }).message.usage).toEqual({ input_tokens: 12, output_tokens: 0 });
  });

  it('ends a broken stream with an error event, and an empty one with its start and end', () => {
    const broken = new AnthropicStream(12);
    broken.translate(replayEvents(completion, false)[1]);
    expect(eventsOf(broken.finish(sseEvent({ error: { message: 'upstream cut', code: 'SERVICE_UNAVAILABLE' } })))).toEqual([{ type: 'error', error: { type: 'api_error', message: 'upstream cut', code: 'SERVICE_UNAVAILABLE' } }]);
    expect(eventsOf(new AnthropicStream(12).finish(SSE_DONE)).map((e) => e.type)).toEqual(['message_start', 'content_block_start', 'content_block_stop', 'message_delta', 'message_stop']);
  });

  it("answers errors in Anthropic's shape with our code, by status", () => {
    expect(anthropicError(new AppError('DAILY_TOKEN_QUOTA_EXCEEDED', 'No tokens left', { retryAfterSeconds: 60 }))).toEqual({
      status: 429,
      body: { type: 'error', error: { type: 'rate_limit_error', message: 'No tokens left', code: 'DAILY_TOKEN_QUOTA_EXCEEDED', retryAfterSeconds: 60 } },
    });
    expect(anthropicError(new AppError('UNAUTHENTICATED', 'no key')).body.error.type).toBe('authentication_error');
    expect(anthropicError(new AppError('SERVICE_UNAVAILABLE', 'down')).body.error.type).toBe('overloaded_error');
  });
});

describe('Anthropic tool use over the chat path', () => {
  const weather = { name: 'get_weather', description: 'Weather now', input_schema: { type: 'object', properties: { city: { type: 'string' } } } };

  it('turns tools, tool_choice, tool_use and tool_result blocks into functions, tool_calls and tool messages', () => {
    const request = toChatRequest({
      max_tokens: 50,
      tools: [weather],
      tool_choice: { type: 'tool', name: 'get_weather' },
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', content: [{ type: 'text', text: 'Looking.' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'Sunny' }] }, { type: 'text', text: 'And tomorrow?' }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_2', content: 'no such city', is_error: true }] },
      ],
    });
    expect(request.tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: 'Weather now', parameters: weather.input_schema } }]);
    expect(request.tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
    expect(request.messages).toEqual([
      { role: 'user', content: 'Weather in Oslo?' },
      { role: 'assistant', content: 'Looking.', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: 'Sunny' },
      { role: 'user', content: 'And tomorrow?' },
      { role: 'tool', tool_call_id: 'toolu_2', content: 'Error: no such city' },
    ]);
    expect(toChatRequest({ max_tokens: 5, tool_choice: { type: 'any' }, messages: [{ role: 'user', content: 'x' }] }).tool_choice).toBe('required');
  });

  const called: StoredChatCompletion = { ...completion, content: '', toolCalls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }], finishReason: 'tool_calls' };

  it('answers a call as a tool_use block, stop_reason tool_use; arguments cut at the cap as an empty input', () => {
    expect(messageBody(called)).toMatchObject({ content: [{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Oslo' } }], stop_reason: 'tool_use' });
    const cut = { ...called, toolCalls: [{ ...called.toolCalls![0], function: { name: 'get_weather', arguments: '{"ci' } }], finishReason: 'length' };
    expect(messageBody(cut)).toMatchObject({ content: [{ type: 'tool_use', input: {} }], stop_reason: 'max_tokens' });
  });

  it('streams a call as a tool_use block with input_json_delta pieces, after the text block it follows', () => {
    const stream = new AnthropicStream(30);
    const chunk = (delta: unknown, finish: string | null = null) => sseEvent({ id: 'chatcmpl-1', choices: [{ index: 0, delta, finish_reason: finish }] });
    const out = [
      chunk({ role: 'assistant', content: 'Let me check.' }),
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }),
      chunk({}, 'tool_calls'),
    ].map((e) => stream.translate(e)).join('') + stream.finish(SSE_DONE);
    const events = eventsOf(out) as unknown as Array<Record<string, unknown>>;
    expect(events.map((e) => e.type)).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(events[4]).toEqual({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'call_1', name: 'get_weather', input: {} } });
    expect(events.filter((e) => (e.delta as { type?: string } | undefined)?.type === 'input_json_delta').map((e) => (e.delta as { partial_json: string }).partial_json).join('')).toBe('{"city":"Oslo"}');
    expect(events[7]).toEqual({ type: 'content_block_stop', index: 1 });
    expect((events[8].delta as { stop_reason: string }).stop_reason).toBe('tool_use');
  });

  it('replays a stored call (cache hit, idempotent replay) as the same blocks', () => {
    const events = eventsOf(replayAnthropic(called)) as unknown as Array<Record<string, unknown>>;
    expect(events.map((e) => e.type)).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(events[1]).toMatchObject({ content_block: { type: 'tool_use', id: 'call_1', name: 'get_weather' } });
  });

  it('turns image blocks into image_url parts beside the text, in their order', () => {
    const request = toChatRequest({
      max_tokens: 20,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Which is bigger?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/b.jpg' } },
          ],
        },
      ],
    });
    expect(request.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Which is bigger?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://example.com/b.jpg' } },
        ],
      },
    ]);
  });

  it('refuses blocks in the turn that cannot hold them, and images Anthropic would refuse', () => {
    const parse = (messages: unknown) => AnthropicMessagesRequest.safeParse({ max_tokens: 5, messages }).success;
    const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } };
    expect(parse([{ role: 'user', content: [image] }])).toBe(true);
    expect(parse([{ role: 'assistant', content: [image] }])).toBe(false);
    expect(parse([{ role: 'user', content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }] }])).toBe(false);
    expect(parse([{ role: 'user', content: [{ ...image, source: { type: 'base64', media_type: 'image/tiff', data: 'AAAA' } }] }])).toBe(false);
    expect(parse([{ role: 'user', content: [{ ...image, source: { type: 'base64', media_type: 'image/png', data: 'not base64!' } }] }])).toBe(false);
    expect(parse([{ role: 'user', content: [{ ...image, source: { type: 'url', url: 'file:///etc/passwd' } }] }])).toBe(false);
    expect(parse([{ role: 'user', content: [{ type: 'document', source: { type: 'text', data: 'x' } }] }])).toBe(false);
  });
});
