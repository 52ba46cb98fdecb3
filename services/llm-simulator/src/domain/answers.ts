import type { TaskName } from '@qv/contracts';
import { countTokensBounded, parseTaskUserContent, truncateToTokens } from '@qv/llm';
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
/** A lead longer than this (one "word" of 100,000 letters, CJK without spaces) is cut here first. */
const SUMMARY_MAX_CHARS = 400;
const MAX_TAGS = 5;
const ECHO_TOKENS = 32;

/**
 * The answer to a task (or an echo for any other prompt), never longer than `maxTokens` tokens.
 * Whatever the document — no words at all, one run of 100,000 letters, emoji, random code points —
 * a task's answer is JSON its parser accepts whenever `maxTokens` leaves room for the smallest one
 * (a dozen tokens; every task's cap does), and it takes time linear in the document's length.
 * Tokens are counted with `countTokensBounded`, as the usage is.
 */
export function answer(task: TaskName | undefined, userText: string, maxTokens: number): Answer {
  const { title, content } = parseTaskUserContent(stripDirectives(userText));
  switch (task) {
    case 'summarize':
      return fit(summaryCandidates(content, title), maxTokens);
    case 'tag':
      return fit(tagCandidates(content, title), maxTokens);
    case 'extract':
      return factsAnswer(extractFacts(content), maxTokens);
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
    const tokens = countTokensBounded(candidate);
    if (tokens <= maxTokens) return { content: candidate, finishReason: 'stop', completionTokens: tokens };
    last = candidate;
  }
  return cut(last, maxTokens);
}

function cut(text: string, maxTokens: number): Answer {
  const content = truncateToTokens(text, maxTokens);
  return { content, finishReason: 'length', completionTokens: countTokensBounded(content) };
}

/** The first `n` code points of `text` (a surrogate pair is never split). */
function firstCodePoints(text: string, n: number): string {
  let i = 0;
  for (let k = 0; k < n && i < text.length; k++) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
  }
  return text.slice(0, i);
}

function* summaryCandidates(content: string, title: string | undefined): Generator<string> {
  let lead = leadSentences(content, SUMMARY_SENTENCES, SUMMARY_WORDS) || title?.trim() || 'Empty document.';
  if (lead.length > SUMMARY_MAX_CHARS) lead = `${firstCodePoints(lead, SUMMARY_MAX_CHARS)}…`;
  const words = lead.split(' ');
  // Shorter and shorter cuts of the lead until one fits the cap…
  for (let n = words.length; n > 0; n = n > 8 ? Math.floor(n * 0.75) : n - 1) {
    const text = n === words.length ? lead : `${words.slice(0, n).join(' ')}…`;
    yield JSON.stringify({ summary: text });
  }
  // …then, for a first word too long on its own (no spaces: CJK, a run of one letter, emoji),
  // halves of it, down to one code point.
  for (let n = Math.floor(words[0].length / 2); n > 0; n = Math.floor(n / 2)) yield JSON.stringify({ summary: `${firstCodePoints(words[0], n)}…` });
}

function* tagCandidates(content: string, title: string | undefined): Generator<string> {
  const tags = keywords(content, title, MAX_TAGS);
  for (let n = tags.length; n > 0; n--) yield JSON.stringify({ tags: tags.slice(0, n) });
  // No keyword at all (no words: digits, emoji, symbols), or not even one that fits.
  yield JSON.stringify({ tags: ['untagged'] });
}

const FACT_KINDS = ['entities', 'dates', 'numbers', 'urls', 'emails'] as const;

/**
 * All the facts when they fit in `maxTokens`; otherwise as many as fit, taken in turn from each
 * kind, first found first. Each try counts an answer that fits (or one fact more), never the whole
 * list again, so the cost stays linear however many long facts the document has.
 */
function factsAnswer(facts: Facts, maxTokens: number): Answer {
  const all = JSON.stringify({ facts });
  const allTokens = countTokensBounded(all);
  if (allTokens <= maxTokens) return { content: all, finishReason: 'stop', completionTokens: allTokens };

  const kept: Facts = { entities: [], dates: [], numbers: [], urls: [], emails: [] };
  let content = JSON.stringify({ facts: kept });
  let tokens = countTokensBounded(content);
  if (tokens > maxTokens) return cut(content, maxTokens);
  const longest = Math.max(...FACT_KINDS.map((kind) => facts[kind].length));
  for (let i = 0; i < longest; i++) {
    for (const kind of FACT_KINDS) {
      if (i >= facts[kind].length) continue;
      kept[kind].push(facts[kind][i]);
      const candidate = JSON.stringify({ facts: kept });
      const candidateTokens = countTokensBounded(candidate);
      if (candidateTokens <= maxTokens) {
        content = candidate;
        tokens = candidateTokens;
      } else kept[kind].pop();
    }
  }
  return { content, finishReason: 'stop', completionTokens: tokens };
}

/**
 * An answer that ran past `maxTokens`: a task's JSON opened and never closed, cut at exactly
 * `maxTokens` tokens (`finish_reason: length`), as a model's long answer is cut at its cap.
 */
export function cutAnswer(maxTokens: number): Answer {
  return cut(`{"summary": "${'and so on '.repeat(maxTokens + 8)}`, maxTokens);
}
