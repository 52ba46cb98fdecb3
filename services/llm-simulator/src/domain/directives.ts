/**
 * Fault and latency directives a caller writes into the user content, e.g. `[sim:status=429]`.
 * They stay in the prompt (and in its token count); the answers are computed without them.
 */
/** Statuses a directive may ask for: the retryable ones, and client errors a worker must not retry. */
export type SimulatedStatus = 400 | 401 | 403 | 404 | 422 | 429 | 500 | 503;
const SIMULATED_STATUSES: readonly number[] = [400, 401, 403, 404, 422, 429, 500, 503];

export interface Directives {
  latencyMs?: number;
  status?: SimulatedStatus;
  retryAfterSeconds?: number;
  failFirst?: number;
  /** The status the `fail_first` failures answer with (default 500); a 429 carries `retry_after`. */
  failFirstStatus?: SimulatedStatus;
  failUntil?: number;
  /** Only the Nth call with the same user content fails (500), those before and after it answer (`[sim:fail_nth=N]`). */
  failNth?: number;
  /** The first N calls with the same user content answer a text cut at their max tokens, as a model whose answer ran past its cap (`[sim:cut_first=N]`): paid for, and no task's JSON. */
  cutFirst?: number;
  /** A streamed answer waits this long before each chunk after the first (`[sim:chunk_ms=N]`). */
  chunkMs?: number;
  /** The answer is N tokens whatever its max tokens, as a broken provider's that ignores its cap (`[sim:runaway_tokens=N]`, at most MAX_RUNAWAY_TOKENS). */
  runawayTokens?: number;
  /** The answer's usage reports a prompt count that is none (`[sim:usage=negative|huge|fraction|text]`), as a broken provider or a peer in the middle might. */
  badUsage?: BadUsage;
}

export const BAD_USAGES = ['negative', 'huge', 'fraction', 'text'] as const;
export type BadUsage = (typeof BAD_USAGES)[number];

/** What a bad usage reports as `prompt_tokens`. */
export const BAD_PROMPT_TOKENS: Record<BadUsage, unknown> = { negative: -1_000_000, huge: 2 ** 31, fraction: 12.5, text: '12' };

// The value stops at the next '[' as well: with '[' allowed, a run of '[sim:a=[sim:a=…' made every
// attempt scan to the end of the text (quadratic).
const DIRECTIVE = /\[sim:([a-z_]+)=([^\]\s[]*)\]/g;

/** The longest runaway answer a directive may ask for (some 180 MB streamed). */
export const MAX_RUNAWAY_TOKENS = 1_000_000;

/** Longest latency a directive may ask for, so a typo cannot hang a test run. */
export const MAX_DIRECTIVE_LATENCY_MS = 120_000;

function nonNegativeInt(value: string): number | undefined {
  if (!/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Reads every directive; unknown names and unreadable values are ignored (the text stays text). */
export function parseDirectives(text: string): Directives {
  const result: Directives = {};
  for (const [, name, value] of text.matchAll(DIRECTIVE)) {
    if (name === 'usage') {
      if ((BAD_USAGES as readonly string[]).includes(value)) result.badUsage = value as BadUsage;
      continue;
    }
    const n = nonNegativeInt(value);
    if (n === undefined) continue;
    switch (name) {
      case 'latency_ms':
        result.latencyMs = Math.min(n, MAX_DIRECTIVE_LATENCY_MS);
        break;
      case 'status':
        if (SIMULATED_STATUSES.includes(n)) result.status = n as SimulatedStatus;
        break;
      case 'fail_first_status':
        if (SIMULATED_STATUSES.includes(n)) result.failFirstStatus = n as SimulatedStatus;
        break;
      case 'retry_after':
        result.retryAfterSeconds = n;
        break;
      case 'fail_first':
        result.failFirst = n;
        break;
      case 'fail_until':
        result.failUntil = n;
        break;
      case 'fail_nth':
        if (n >= 1) result.failNth = n;
        break;
      case 'cut_first':
        result.cutFirst = n;
        break;
      case 'runaway_tokens':
        if (n >= 1) result.runawayTokens = Math.min(n, MAX_RUNAWAY_TOKENS);
        break;
      case 'chunk_ms':
        result.chunkMs = Math.min(n, MAX_DIRECTIVE_LATENCY_MS);
        break;
    }
  }
  return result;
}

/** The text without directives, for summaries, tags and facts. */
export function stripDirectives(text: string): string {
  return text.replace(DIRECTIVE, ' ');
}
