import { ChatCompletionRequest } from '@qv/contracts';
import { countChatTokensBounded, countTokensBounded } from '@qv/llm';
import { chatCacheKey, estimatePromptTokens, upstreamBody } from './chat-request';

describe('chat request', () => {
  const bounds = { imagePartTokens: 1445 };

  it('estimates the prompt as the simulator counts it, text parts included', async () => {
    const messages = [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: [{ type: 'text', text: 'Hello ' }, { type: 'text', text: 'there.' }] }];
    const exact = countChatTokensBounded([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there.' }]);
    expect(await estimatePromptTokens({ messages }, bounds)).toBe(exact);
    // How the answer is sampled and delivered is not prompt.
    expect(await estimatePromptTokens({ messages, temperature: 0.2, top_p: 1, stop: ['x'], seed: 7, max_tokens: 9, stream: true, stream_options: { include_usage: true }, user: 'u1' }, bounds)).toBe(exact);
  });

  it('counts what a provider bills as prompt beside the text: tools, tool calls and results, images, unknown fields', async () => {
    const messages = [{ role: 'user' as const, content: 'What is the weather?' }];
    const plain = await estimatePromptTokens({ messages }, bounds);
    const tool = { type: 'function' as const, function: { name: 'get_weather', description: 'The weather in a city, now.', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
    const json = countTokensBounded(JSON.stringify({ tools: [tool] }));
    expect(await estimatePromptTokens({ messages, tools: [tool] }, bounds)).toBe(plain + json + 12 + 7);

    const call = { id: 'call_1', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } };
    const toolTurn = [...messages, { role: 'assistant' as const, content: null, tool_calls: [call] }, { role: 'tool' as const, content: 'Sunny, 4 °C', tool_call_id: 'call_1' }];
    const turnText = countChatTokensBounded([{ role: 'user', content: 'What is the weather?' }, { role: 'assistant', content: '' }, { role: 'tool', content: 'Sunny, 4 °C' }]);
    expect(await estimatePromptTokens({ messages: toolTurn }, bounds)).toBe(
      turnText + countTokensBounded(JSON.stringify({ tool_calls: [call] })) + countTokensBounded(JSON.stringify({ tool_call_id: 'call_1' })),
    );

    const image = { type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(50_000)}` } };
    expect(await estimatePromptTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'What is the weather?' }, image] }] }, bounds)).toBe(plain + 1445);
    expect(await estimatePromptTokens({ messages, prediction: { type: 'content', content: 'x'.repeat(400) } }, bounds)).toBeGreaterThan(plain + 40);
  });

  it('reads the tool calls a provider accepts, function and custom, and refuses the others', () => {
    const turn = (call: unknown) => ChatCompletionRequest.safeParse({ messages: [{ role: 'assistant', content: null, tool_calls: [call] }] }).success;
    expect(turn({ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{}' } })).toBe(true);
    expect(turn({ id: 'c2', type: 'custom', custom: { name: 'grep', input: 'TODO' } })).toBe(true);
    expect(turn({ id: 'c3', type: 'function', function: { name: 'get weather', arguments: '{}' } })).toBe(false);
    expect(turn({ id: 'c4', type: 'function', function: { name: 'f', arguments: { a: 1 } } })).toBe(false);
    expect(turn({ id: '', type: 'function', function: { name: 'f', arguments: '{}' } })).toBe(false);
  });

  it('refuses a part whose cost has no bound before the call (a file), as a validation error', async () => {
    const file = { type: 'file', file: { file_id: 'file-abc' } };
    await expect(estimatePromptTokens({ messages: [{ role: 'user', content: [file] }] }, bounds)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('sends the clamped cap under the client’s field, and always asks a stream for its usage', () => {
    const messages = [{ role: 'user' as const, content: 'x' }];
    expect(upstreamBody({ messages, max_completion_tokens: 500, temperature: 0.2 }, 'sim-1', 40)).toEqual({ messages, temperature: 0.2, model: 'sim-1', max_completion_tokens: 40, stream: false });
    expect(upstreamBody({ messages, max_tokens: 500, stream: true }, 'sim-1', 40)).toEqual({ messages, model: 'sim-1', max_tokens: 40, stream: true, stream_options: { include_usage: true } });
  });

  it('keys the cache by user, model and the question, not by how it is delivered', () => {
    const messages = [{ role: 'user' as const, content: 'x' }];
    const plain = chatCacheKey('content', 'usr_a', 'sim-1', upstreamBody({ messages }, 'sim-1', 40));
    expect(chatCacheKey('content', 'usr_a', 'sim-1', upstreamBody({ messages, stream: true }, 'sim-1', 40))).toEqual(plain);
    expect(chatCacheKey('content', 'usr_b', 'sim-1', upstreamBody({ messages }, 'sim-1', 40))).not.toEqual(plain);
    expect(chatCacheKey('content', 'usr_a', 'sim-1', upstreamBody({ messages }, 'sim-1', 41)).input).not.toBe(plain.input);
    expect(plain).toMatchObject({ tier: 'content', scope: 'usr_a', model: 'sim-1' });
  });
});
