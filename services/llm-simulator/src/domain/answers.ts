import type { TaskName } from '@qv/contracts';
import { countTokens, parseTaskUserContent, truncateToTokens } from '@qv/llm';
import { stripDirectives } from './directives';
import { extractFacts, keywords, leadSentences, type Facts } from './text-analysis';

export interface Answer {
  content: string;
  /** `length` when even the smallest answer had to be cut at `maxTokens`. */
  finishReason: 'stop' | 'length';
  completionTokens: number;
}

const SUMMARY_SENTENCES = 3;
const SUMMARY_WORDS = 60;
const MAX_TAGS = 5;
const ECHO_TOKENS = 32;

/** The answer to a task (or an echo for any other prompt), never longer than `maxTokens` tokens. */
export function answer(task: TaskName | undefined, userText: string, maxTokens: number): Answer {
  const { title, content } = parseTaskUserContent(stripDirectives(userText));
  switch (task) {
    case 'summarize':
      return fit(summaryCandidates(content, title), maxTokens);
    case 'tag':
      return fit(tagCandidates(content, title), maxTokens);
    case 'extract':
      return fit(factCandidates(content), maxTokens);
    default:
      return fit([`echo: ${truncateToTokens(content.replace(/\s+/g, ' ').trim(), ECHO_TOKENS)}`], maxTokens);
  }
}

/**
 * The first candidate (largest first) that fits in `maxTokens`; if none does, the smallest is cut,
 * as a real model stops mid-answer at its limit.
 */
function fit(candidates: Iterable<string>, maxTokens: number): Answer {
  let last = '';
  for (const candidate of candidates) {
    const tokens = countTokens(candidate);
    if (tokens <= maxTokens) return { content: candidate, finishReason: 'stop', completionTokens: tokens };
    last = candidate;
  }
  const cut = truncateToTokens(last, maxTokens);
  return { content: cut, finishReason: 'length', completionTokens: countTokens(cut) };
}

function* summaryCandidates(content: string, title: string | undefined): Generator<string> {
  const lead = leadSentences(content, SUMMARY_SENTENCES, SUMMARY_WORDS) || title || 'Empty document.';
  const words = lead.split(' ');
  // Shorter and shorter cuts of the lead until one fits the cap.
  for (let n = words.length; n > 0; n = n > 8 ? Math.floor(n * 0.75) : n - 1) {
    const text = n === words.length ? lead : `${words.slice(0, n).join(' ')}…`;
    yield JSON.stringify({ summary: text });
  }
}

function* tagCandidates(content: string, title: string | undefined): Generator<string> {
  const tags = keywords(content, title, MAX_TAGS);
  if (tags.length === 0) tags.push('untagged');
  for (let n = tags.length; n > 0; n--) yield JSON.stringify({ tags: tags.slice(0, n) });
}

function* factCandidates(content: string): Generator<string> {
  const facts: Facts = extractFacts(content);
  yield JSON.stringify({ facts });
  // Drop the last item of the longest list until the answer fits.
  for (;;) {
    const longest = (Object.keys(facts) as (keyof Facts)[]).reduce((a, b) => (facts[b].length > facts[a].length ? b : a));
    if (facts[longest].length === 0) return;
    facts[longest] = facts[longest].slice(0, -1);
    yield JSON.stringify({ facts });
  }
}
