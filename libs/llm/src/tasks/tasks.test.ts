import { LlmError } from '../errors';
import { countChatTokensBounded } from '../tokens';
import { PATHOLOGICAL_CORPORA } from '../testing';
import { detectTask, estimateTokens, estimateTokensAsync, parseTaskUserContent, stripJsonFence, TASKS } from './tasks';

function invalid(fn: () => unknown): LlmError {
  try {
    fn();
  } catch (err) {
    return err as LlmError;
  }
  throw new Error('expected a throw');
}

describe('TASKS', () => {
  it('versions every prompt and marks it so the simulator can tell the tasks apart', () => {
    expect(TASKS.summarize.promptVersion).toBe('summarize@1');
    expect(TASKS.tag.promptVersion).toBe('tag@1');
    expect(TASKS.extract.promptVersion).toBe('extract@1');
    for (const name of ['summarize', 'tag', 'extract'] as const) expect(detectTask(TASKS[name].systemPrompt)).toBe(name);
    expect(detectTask('You are a helpful assistant.')).toBeUndefined();
  });

  it('builds a system and a user message, the title above the content', () => {
    const messages = TASKS.tag.buildMessages({ content: 'Body text.', title: 'A title' });
    expect(messages).toEqual([
      { role: 'system', content: TASKS.tag.systemPrompt },
      { role: 'user', content: 'Title: A title\n\nBody text.' },
    ]);
    expect(TASKS.tag.buildMessages({ content: 'Body text.', title: null })[1].content).toBe('Body text.');
    expect(parseTaskUserContent('Title: A title\n\nBody text.')).toEqual({ title: 'A title', content: 'Body text.' });
    expect(parseTaskUserContent('Body text.')).toEqual({ content: 'Body text.' });
  });

  it('parses good JSON and fenced JSON', () => {
    expect(TASKS.summarize.parse('{"summary":"Short."}')).toEqual({ summary: 'Short.' });
    expect(TASKS.summarize.parse('```json\n{"summary": "Fenced."}\n```')).toEqual({ summary: 'Fenced.' });
    expect(TASKS.tag.parse('```\n{"tags":["Quota", "ai", "quota "]}\n```')).toEqual({ tags: ['quota', 'ai'] });
    expect(TASKS.extract.parse('{"facts":{"urls":["https://x.test"],"numbers":[]}}')).toEqual({ facts: { urls: ['https://x.test'], numbers: [] } });
    expect(stripJsonFence('  {"a":1}  ')).toBe('{"a":1}');
  });

  it.each([
    ['summarize', 'Here is your summary: it is short.'],
    ['summarize', '{"summary": ""}'],
    ['summarize', '{"text": "wrong key"}'],
    ['tag', '{"tags": []}'],
    ['tag', '{"tags": ["a","b","c","d","e","f","g","h","i","j","k"]}'],
    ['tag', '{"tags": "ai"}'],
    ['extract', '{"facts": ["not", "a", "record"]}'],
    ['extract', '{"summary": "x"'],
  ] as const)('%s refuses %s as a retryable invalid_response', (task, text) => {
    const err = invalid(() => TASKS[task].parse(text));
    expect(err).toBeInstanceOf(LlmError);
    expect(err.kind).toBe('invalid_response');
    expect(err.retryable).toBe(true);
  });
});

describe('estimateTokens', () => {
  const input = { content: 'Quota Vault charges every AI call before it is made.', title: 'Quotas' };

  it('is the exact prompt tokens plus the completion cap of each task', () => {
    const summarize = countChatTokensBounded(TASKS.summarize.buildMessages(input)) + 200;
    const tag = countChatTokensBounded(TASKS.tag.buildMessages(input)) + 60;
    const extract = countChatTokensBounded(TASKS.extract.buildMessages(input)) + 300;
    expect(estimateTokens(input, ['summarize'])).toBe(summarize);
    expect(estimateTokens(input, ['summarize', 'tag'])).toBe(summarize + tag);
    expect(estimateTokens(input, ['summarize', 'tag', 'extract'])).toBe(summarize + tag + extract);
    expect(estimateTokens(input, [])).toBe(0);
  });

  it('grows with the content', () => {
    const longer = { ...input, content: `${input.content} And then some more words.` };
    expect(estimateTokens(longer, ['tag'])).toBeGreaterThan(estimateTokens(input, ['tag']));
  });

  it.each(Object.keys(PATHOLOGICAL_CORPORA))('is the bounded prompt tokens plus the caps for 100,000 characters of %s, in slices too', async (name) => {
    const body = { content: PATHOLOGICAL_CORPORA[name](100_000), title: 'Pathological' };
    const expected = (['summarize', 'tag', 'extract'] as const).reduce((sum, task) => sum + countChatTokensBounded(TASKS[task].buildMessages(body)) + TASKS[task].completionCap, 0);
    expect(estimateTokens(body, ['summarize', 'tag', 'extract'])).toBe(expected);
    expect(await estimateTokensAsync(body, ['summarize', 'tag', 'extract'])).toBe(expected);
    expect(await estimateTokensAsync(body, [])).toBe(0);
  });
});
