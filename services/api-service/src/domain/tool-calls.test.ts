import type { StoredChatCompletion } from '@qv/contracts';
import { countTokensBounded } from '@qv/llm';
import { completionBody, replayEvents } from './chat-format';
import { answerTokens, storedToolCalls, ToolCallDeltas } from './tool-calls';

const call = (id: string, name: string, args: string) => ({ id, type: 'function', function: { name, arguments: args } });

/** The calls a stream's events carry, put together as a client does. */
function callsOfEvents(events: string[]) {
  const deltas = new ToolCallDeltas();
  for (const event of events) {
    const data = event.slice('data: '.length).trim();
    if (data === '[DONE]') continue;
    const chunk = JSON.parse(data) as { choices: Array<{ delta?: { tool_calls?: [] } }> };
    const toolCalls = chunk.choices[0]?.delta?.tool_calls;
    if (toolCalls) deltas.add(toolCalls);
  }
  return deltas.assembled();
}

describe('tool calls on the chat path', () => {
  it('puts a stream’s calls together by index: the first id and type, the name and arguments in order', () => {
    const deltas = new ToolCallDeltas();
    deltas.add([{ index: 1, id: 'call_b', type: 'function', function: { name: 'lookup', arguments: '' } }]);
    deltas.add([{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_', arguments: '{"ci' } }]);
    deltas.add([{ index: 0, function: { name: 'weather', arguments: 'ty":"Oslo"}' } }, { index: 1, function: { arguments: '{}' } }]);
    expect(deltas.assembled()).toEqual([call('call_a', 'get_weather', '{"city":"Oslo"}'), call('call_b', 'lookup', '{}')]);
  });

  it('keeps what a provider sent as strings only', () => {
    expect(storedToolCalls([{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }, { id: 7, function: { name: null } }])).toEqual([call('c', 'f', '{}'), call('', '', '')]);
    expect(storedToolCalls(undefined)).toEqual([]);
  });

  it('counts a call’s name and arguments as answer tokens when the provider reports no usage', () => {
    expect(answerTokens('ok', [call('c', 'get_weather', '{"city":"Oslo"}')])).toBe(countTokensBounded('ok') + countTokensBounded('get_weather') + countTokensBounded('{"city":"Oslo"}'));
  });

  const stored: StoredChatCompletion = { id: 'chatcmpl-1', model: 'sim-1', created: 1, content: '', toolCalls: [call('call_a', 'get_weather', '{"city":"Oslo"}')], finishReason: 'tool_calls', promptTokens: 30, completionTokens: 9 };

  it('answers stored calls as OpenAI does: content null beside the calls', () => {
    const message = (completionBody(stored).choices as Array<{ message: unknown }>)[0].message;
    expect(message).toEqual({ role: 'assistant', content: null, tool_calls: stored.toolCalls, refusal: null });
    const text = (completionBody({ ...stored, toolCalls: undefined, content: 'hi' }).choices as Array<{ message: unknown }>)[0].message;
    expect(text).toEqual({ role: 'assistant', content: 'hi', refusal: null });
  });

  it('replays stored calls as a stream a client puts back together to the same calls', () => {
    const events = replayEvents(stored, true);
    expect(callsOfEvents(events)).toEqual(stored.toolCalls);
    expect(JSON.parse(events[events.length - 3].slice(6)).choices[0].finish_reason).toBe('tool_calls');
  });
});
