import type { TaskName } from '@qv/contracts';
import { countTokens, countTokensBounded, TASKS } from '@qv/llm';
import { PATHOLOGICAL_CORPORA } from '@qv/llm/testing';
import { answer, cutAnswer } from './answers';
import { parseDirectives, stripDirectives } from './directives';
import { extractFacts, keywords, leadSentences } from './text-analysis';

const DOC = [
  'Quota Vault charges every AI call against a plan before it is made.',
  'Workers run the calls, and a cache answers repeated requests.',
  'The ledger settles each reservation to the exact token count.',
  'Quota limits hold across every replica of every service.',
  'Contact ops@example.com or see https://example.com/docs for the quota rules published on 2024-05-13.',
].join(' ');

function userText(content: string, title?: string) {
  return TASKS.summarize.buildMessages({ content, title })[1].content;
}

describe('answer', () => {
  it('summarizes with the lead sentences, as JSON the task accepts', () => {
    const reply = answer('summarize', userText(DOC, 'Quota Vault'), 200);
    expect(TASKS.summarize.parse(reply.content)).toEqual({
      summary:
        'Quota Vault charges every AI call against a plan before it is made. Workers run the calls, and a cache answers repeated requests. The ledger settles each reservation to the exact token count.',
    });
    expect(reply.finishReason).toBe('stop');
    expect(reply.completionTokens).toBe(countTokens(reply.content));
  });

  it('shortens the summary to fit max_tokens and still answers valid JSON', () => {
    const reply = answer('summarize', userText(DOC), 20);
    expect(reply.completionTokens).toBeLessThanOrEqual(20);
    expect(reply.finishReason).toBe('stop');
    expect(TASKS.summarize.parse(reply.content).summary.startsWith('Quota Vault charges')).toBe(true);
  });

  it('cuts at max_tokens with finish_reason length when nothing smaller exists', () => {
    const reply = answer('summarize', userText(DOC), 3);
    expect(reply.completionTokens).toBe(3);
    expect(reply.finishReason).toBe('length');
  });

  it('tags with the most frequent non-stopwords, directives left out', () => {
    const reply = answer('tag', userText(`${DOC} [sim:latency_ms=5]`, 'Quota Vault'), 60);
    expect(TASKS.tag.parse(reply.content)).toEqual({ tags: ['quota', 'vault', 'charges', 'call', 'plan'] });
    expect(reply.content).not.toContain('sim');
  });

  it('extracts facts', () => {
    const reply = answer('extract', userText(DOC), 300);
    expect(TASKS.extract.parse(reply.content).facts).toEqual({
      entities: ['Quota Vault', 'AI'],
      dates: ['2024-05-13'],
      numbers: [],
      urls: ['https://example.com/docs'],
      emails: ['ops@example.com'],
    });
  });

  it('trims the facts to fit max_tokens', () => {
    const reply = answer('extract', userText(DOC), 40);
    expect(reply.completionTokens).toBeLessThanOrEqual(40);
    expect(reply.finishReason).toBe('stop');
    expect(() => TASKS.extract.parse(reply.content)).not.toThrow();
  });

  it('echoes anything that is not a task', () => {
    expect(answer(undefined, 'Hello there, simulator.', 50)).toEqual({ content: 'echo: Hello there, simulator.', finishReason: 'stop', completionTokens: 7 });
  });
});

describe('text analysis', () => {
  it('keeps at most N sentences and M words', () => {
    expect(leadSentences('One two. Three four. Five six.', 2, 10)).toBe('One two. Three four.');
    expect(leadSentences('One two three four five six.', 3, 3)).toBe('One two three…');
  });

  it('ranks keywords by frequency, then first appearance', () => {
    expect(keywords('beta alpha beta gamma alpha beta the and', undefined, 2)).toEqual(['beta', 'alpha']);
    expect(keywords('beta alpha', 'gamma', 3)).toEqual(['gamma', 'beta', 'alpha']);
  });

  it('finds names, dates, numbers with units', () => {
    const facts = extractFacts('On March 3, 2025 Ada Lovelace paid $40 for 12 kg of flour in London. Yesterday it rained. The Bank of England agreed.');
    expect(facts.entities).toEqual(['Ada Lovelace', 'London', 'Bank of England']);
    expect(facts.dates).toEqual(['March 3, 2025']);
    expect(facts.numbers).toEqual(['$40', '12 kg']);
  });
});

const TASK_NAMES: TaskName[] = ['summarize', 'tag', 'extract'];

/** Runs that made a regex rescan from every position (quadratic) before its pattern was fixed. */
const REGEX_HOSTILE: Record<string, string> = {
  'a.a.a.… (email local part)': 'a.'.repeat(50_000),
  '1-1-1-… (email local part)': '1-'.repeat(50_000),
  '[sim:a=[sim:a=… (directive value)': '[sim:a='.repeat(14_286).slice(0, 100_000),
  'x@a.x@a.… (email domain)': 'x@a.'.repeat(25_000),
  'http://http://… (url)': 'http://'.repeat(14_286).slice(0, 100_000),
  'A of A of … (entity)': 'A of '.repeat(20_000),
  '2024-01-01T1… (date)': '2024-01-01T1'.repeat(8_334).slice(0, 100_000),
};

describe('answer on pathological documents of 100,000 characters', () => {
  const documents: Record<string, string> = { ...REGEX_HOSTILE };
  for (const [name, corpus] of Object.entries(PATHOLOGICAL_CORPORA)) documents[name] = corpus(100_000);

  it.each(Object.keys(documents))('answers every task in its format for %s', (name) => {
    const user = userText(documents[name]);
    for (const task of TASK_NAMES) {
      const reply = answer(task, user, TASKS[task].completionCap);
      expect(reply.finishReason).toBe('stop');
      expect(reply.completionTokens).toBe(countTokensBounded(reply.content));
      expect(reply.completionTokens).toBeLessThanOrEqual(TASKS[task].completionCap);
      expect(() => TASKS[task].parse(reply.content)).not.toThrow();
    }
  });

  it.each(['!!!', '12345 678', '😀😀 👍🏿', '   \n\t ', '\u200d', '—', '.'])('answers every task in its format for a body with no words: %j', (body) => {
    for (const task of TASK_NAMES) {
      const reply = answer(task, userText(body), TASKS[task].completionCap);
      expect(reply.finishReason).toBe('stop');
      expect(() => TASKS[task].parse(reply.content)).not.toThrow();
    }
    expect(TASKS.tag.parse(answer('tag', userText('12345 678'), 60).content)).toEqual({ tags: ['untagged'] });
  });

  it.each(Object.keys(REGEX_HOSTILE))('reads directives and facts out of %s without rescanning', (name) => {
    const text = REGEX_HOSTILE[name];
    expect(() => [parseDirectives(text), stripDirectives(text), extractFacts(text), keywords(text, undefined, 5), leadSentences(text, 3, 60)]).not.toThrow();
  });

  it('never reports a name or number of a whole run as a fact, nor a run as a tag', () => {
    const run = 'A'.repeat(100_000);
    expect(extractFacts(run).entities).toEqual([]);
    expect(extractFacts('9'.repeat(100_000)).numbers).toEqual([]);
    expect(keywords('a'.repeat(100_000), undefined, 5)).toEqual([]);
  });
});

describe('cutAnswer', () => {
  it('is cut at exactly maxTokens, finish_reason length, and parses as no task', () => {
    const cut = cutAnswer(60);
    expect([cut.completionTokens, cut.finishReason]).toEqual([60, 'length']);
    expect(countTokensBounded(cut.content)).toBe(60);
    expect(() => TASKS.summarize.parse(cut.content)).toThrow();
  });
});
