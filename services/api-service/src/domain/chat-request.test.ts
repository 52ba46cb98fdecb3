import { countChatTokensBounded } from '@qv/llm';
import { chatCacheKey, estimatePromptTokens, upstreamBody } from './chat-request';

describe('chat request', () => {
  it('estimates the prompt as the simulator counts it, text parts included', async () => {
    const messages = [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: [{ type: 'text', text: 'Hello ' }, { type: 'text', text: 'there.' }] }];
    expect(await estimatePromptTokens(messages)).toBe(countChatTokensBounded([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there.' }]));
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
