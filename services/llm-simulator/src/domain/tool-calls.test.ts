import { countChatTokensBounded, countTokensBounded } from '@qv/llm';
import { billedPromptTokens, IMAGE_TOKENS } from './prompt-usage';
import { chosenTool, toolCallAnswer } from './tool-calls';

const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather now', parameters: { type: 'object' } } }, { type: 'function', function: { name: 'lookup' } }];

describe('the simulated model’s function calls', () => {
  it('calls the named function, the first one when a call is required, none otherwise', () => {
    expect(chosenTool(tools, { type: 'function', function: { name: 'lookup' } })).toBe('lookup');
    expect(chosenTool(tools, 'required')).toBe('get_weather');
    expect(chosenTool(tools, 'auto')).toBeUndefined();
    expect(chosenTool(tools, undefined)).toBeUndefined();
    expect(chosenTool(tools, { type: 'function', function: { name: 'missing' } })).toBeUndefined();
    expect(chosenTool([], 'required')).toBeUndefined();
  });

  it('writes the user’s text as the argument, and cuts the arguments at the cap', () => {
    const whole = toolCallAnswer('call_1', 'get_weather', 'Weather in Oslo? [sim:latency=5]', 100);
    expect(whole).toEqual({ toolCall: { id: 'call_1', name: 'get_weather', arguments: '{"input":"Weather in Oslo?"}' }, finishReason: 'tool_calls', completionTokens: countTokensBounded('get_weather') + countTokensBounded('{"input":"Weather in Oslo?"}') });
    const cut = toolCallAnswer('call_1', 'get_weather', 'x '.repeat(500), 6);
    expect(cut.finishReason).toBe('length');
    expect(cut.completionTokens).toBeLessThanOrEqual(6);
  });
});

describe('the prompt tokens the simulated provider bills', () => {
  const user = { role: 'user', content: 'Hi' };
  const text = countChatTokensBounded([user]);

  it('is the messages’ count for text alone', () => {
    expect(billedPromptTokens([user], undefined)).toBe(text);
  });

  it('adds the function definitions, tool calls and results, names and images', () => {
    expect(billedPromptTokens([user], tools)).toBe(
      text + 12 + 7 + countTokensBounded('get_weather') + countTokensBounded('Weather now') + countTokensBounded('{"type":"object"}') + 7 + countTokensBounded('lookup'),
    );
    const assistant = { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"q":1}' } }] };
    const result = { role: 'tool', content: 'found', tool_call_id: 'c1' };
    const base = countChatTokensBounded([user, { role: 'assistant', content: '' }, { role: 'tool', content: 'found' }]);
    expect(billedPromptTokens([user, assistant, result], undefined)).toBe(base + 3 + countTokensBounded('lookup') + countTokensBounded('{"q":1}') + countTokensBounded('c1'));
    const images = { role: 'user', content: [{ type: 'text', text: 'Hi' }, { type: 'image_url', image_url: { url: 'https://x/a.png' } }, { type: 'image_url', image_url: { url: 'https://x/b.png', detail: 'low' } }] };
    expect(billedPromptTokens([images], undefined)).toBe(text + IMAGE_TOKENS.high + IMAGE_TOKENS.low);
    expect(billedPromptTokens([{ ...user, name: 'ann' }], undefined)).toBe(text + 1 + countTokensBounded('ann'));
  });
});
