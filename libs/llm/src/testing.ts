/*
 * Test helpers of libs/llm. Corpora for the tokenizer and the simulator: deterministic (seeded)
 * texts of an exact length in UTF-16 code units, which is how the API counts an item's 100,000
 * characters, shared by libs/llm's and llm-simulator's tests, e2e/pathological-bodies and
 * bench/tokens. And `runTask`, one task against a provider without the worker around it, for the
 * providers' tests. Not exported from the lib's index: production code has no use for them (the
 * worker runs tasks through its cache, services/enrichment-worker enrich.handler).
 */
import type { TaskName } from '@qv/contracts';
import { TASKS, type TaskDefinition, type TaskInput, type TaskOutputs } from './tasks/tasks';
import type { CompletionResult, LlmProvider } from './types';

/** Runs one task: builds its messages, calls the provider within the task's cap, parses the answer. */
export async function runTask<K extends TaskName>(
  provider: LlmProvider,
  task: K,
  input: TaskInput,
  options: { signal?: AbortSignal; model?: string } = {},
): Promise<{ output: TaskOutputs[K]; result: CompletionResult }> {
  const definition: TaskDefinition<K> = TASKS[task];
  const result = await provider.complete({
    model: options.model,
    messages: definition.buildMessages(input),
    maxTokens: definition.completionCap,
    responseFormat: 'json',
    signal: options.signal,
  });
  return { output: definition.parse(result.text), result };
}

/** A small deterministic PRNG (mulberry32): the same seed gives the same text on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Chunks appended until `length` code units, cut there (a surrogate pair cut in two ends in 'x'). */
function fill(length: number, chunk: () => string): string {
  const parts: string[] = [];
  let size = 0;
  while (size < length) {
    const c = chunk();
    parts.push(c);
    size += c.length;
  }
  let text = parts.join('').slice(0, length);
  const last = text.charCodeAt(length - 1);
  if (last >= 0xd800 && last <= 0xdbff) text = `${text.slice(0, -1)}x`;
  return text;
}

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her all ' +
  'she there would their we him been has when who will more no if out so said what up its about into than them can only other new ' +
  'some could time these two may then do first any my now such like our over man me even most made after also did many before must ' +
  'through back years where much your way well down should because each just those people how too little state good very make world ' +
  'still own see men work long get here between both life being under never day same another know while last might us great old year ' +
  'off come since against go came right used take three quota vault charges every call against plan before made caches what safe ' +
  'settles exact tokens append-only ledger reconciles zero drift workers enrichment summary tags facts provider simulator request ' +
  'reservation settlement cache tier circuit breaker retry backoff jitter queue outbox relay transaction statement counter limit'
).split(' ');

/** Ordinary English prose: sentences of common words, capitals, commas, numbers and paragraphs. */
export function prose(length: number, seed = 1): string {
  const rnd = seededRandom(seed);
  return fill(length, () => {
    const n = 6 + Math.floor(rnd() * 14);
    const words: string[] = [];
    for (let i = 0; i < n; i++) {
      let w = WORDS[Math.floor(rnd() * WORDS.length)];
      if (i === 0) w = w[0].toUpperCase() + w.slice(1);
      if (rnd() < 0.04) w = String(Math.floor(rnd() * 5000));
      words.push(rnd() < 0.08 && i < n - 1 ? `${w},` : w);
    }
    return `${words.join(' ')}${rnd() < 0.9 ? '.' : '?'}${rnd() < 0.15 ? '\n\n' : ' '}`;
  });
}

/** Chinese-like prose: common CJK characters in clauses of 4–20 between '，' and '。' (ordinary text). */
export function cjkProse(length: number, seed = 2): string {
  const rnd = seededRandom(seed);
  return fill(length, () => {
    let clause = '';
    const n = 4 + Math.floor(rnd() * 17);
    // The 3,500 most common characters sit mostly in U+4E00–U+6FFF.
    for (let i = 0; i < n; i++) clause += String.fromCharCode(0x4e00 + Math.floor(rnd() * 0x2200));
    return clause + (rnd() < 0.7 ? '，' : '。');
  });
}

const EMOJI = ['👩‍👩‍👧‍👦', '🏳️‍🌈', '👨🏽‍💻', '🇫🇷', '❤️‍🔥', '🧑‍🤝‍🧑', '😀', '👍🏿', '🏴‍☠️', '🫠', '🧔‍♂️', '⛹🏻‍♀️'];

/** A valid Unicode scalar value other than NUL, uniformly (no surrogate: the API refuses lone ones). */
function randomScalar(rnd: () => number): string {
  for (;;) {
    const cp = 1 + Math.floor(rnd() * 0x10ffff);
    if (cp < 0xd800 || cp > 0xdfff) return String.fromCodePoint(cp);
  }
}

/**
 * Bodies that once stalled the tokenizer (DESIGN.md §9): each is one pre-token or a stream of odd
 * ones. By name, each a function of the length in code units.
 */
export const PATHOLOGICAL_CORPORA: Record<string, (length: number) => string> = {
  /** One pre-token: 'aaaa…'. */
  'one letter': (length) => 'a'.repeat(length),
  /** One pre-token of random CJK ideographs (no punctuation, no space). */
  CJK: (length) => {
    const rnd = seededRandom(3);
    return fill(length, () => String.fromCharCode(0x4e00 + Math.floor(rnd() * 0x5200)));
  },
  /** Emoji with ZWJ sequences, skin tones, flags and variation selectors, no space: one pre-token. */
  'emoji and ZWJ sequences': (length) => {
    const rnd = seededRandom(4);
    return fill(length, () => EMOJI[Math.floor(rnd() * EMOJI.length)]);
  },
  /** Only U+200D ZERO WIDTH JOINER. */
  'zero-width joiners': (length) => '\u200d'.repeat(length),
  /** Uniformly random scalar values (astral planes included, no surrogate, no NUL). */
  'random code points': (length) => {
    const rnd = seededRandom(5);
    return fill(length, () => randomScalar(rnd));
  },
  /** base64 of random bytes, one line. */
  base64: (length) => {
    const rnd = seededRandom(6);
    const bytes = Buffer.alloc(Math.ceil((length * 3) / 4) + 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rnd() * 256);
    return bytes.toString('base64').slice(0, length);
  },
  /** 'a.a.a.…', 'x-y+z…': runs that regexes with a leading `\b[\w.+-]+` rescan from every boundary. */
  'dotted run': (length) => fill(length, () => 'a.b-c+d_'),
};
