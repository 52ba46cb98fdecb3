import { AppError, type StoredChatCompletion } from '@qv/contracts';
import { AnthropicStream, anthropicError, messageBody, replayAnthropic, toChatRequest } from './anthropic-format';
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
