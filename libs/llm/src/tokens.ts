import { encode } from 'gpt-tokenizer/cjs/encoding/o200k_base';
import { encodePreToken, firstTokensByteLength, preTokenRegex, utf8Length } from './bpe';
import type { ChatMessage } from './types';

/**
 * The tokenizer behind every count in the system: `o200k_base`, the encoding of the gpt-4o family
 * (and of the simulator). Anthropic models tokenize differently; for them the pre-call estimate is an
 * approximation and settlement uses the usage the API reports.
 */
export const TOKENIZER_ENCODING = 'o200k_base';

/** Per-message framing tokens in OpenAI's chat format (`<|im_start|>role<|im_sep|>…<|im_end|>`). */
const TOKENS_PER_MESSAGE = 3;
/** Every reply is primed with `<|im_start|>assistant<|im_sep|>`. */
const TOKENS_PER_REPLY = 3;

// User content may contain text such as "<|endoftext|>": it is counted as the plain text it is,
// never as a control token (and never makes the tokenizer throw).
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/**
 * Pre-tokens longer than this many UTF-16 code units are not byte-pair encoded: their UTF-8 length
 * stands in for their token count. Words, numbers, punctuation and whitespace runs of ordinary
 * text in any script are far shorter (a Chinese or Thai clause between punctuation or spaces
 * included); only a run such as 'aaaa…', a wall of emoji or a long base64-like line is longer.
 * Measured with `npm run bench -- tokens`: per character, the cost is then the same for every text.
 */
export const LONG_PRE_TOKEN_CHARS = 256;

/**
 * Tokens of `text` in o200k_base, exactly as gpt-tokenizer's `encode` counts them (special-token
 * text as plain text). The REFERENCE count, for tests and benchmarks: gpt-tokenizer's merge loop
 * is quadratic in the length of one pre-token and a run without whitespace is one pre-token
 * ('a' × 40,000 takes seconds), so never call it on user input — use `countTokensBounded`.
 */
export function countTokens(text: string): number {
  return text.length === 0 ? 0 : encode(text, PLAIN_TEXT).length;
}

const PRE_TOKEN = /* @__PURE__ */ preTokenRegex();
const WARM_UP_ROUNDS = 4;
const WARM_UP_UNITS = 5000;

/**
 * Tokens of `text` in o200k_base, bounded: the count to use on anything a user sent.
 *
 * - **Linear time**: O(n) in the length of `text` (O(n log k) strictly, k ≤ 768 bytes), whatever
 *   it holds — one repeated letter, CJK, emoji and ZWJ sequences, random code points, lone
 *   surrogates, base64. 100,000 characters take milliseconds (`npm run bench -- tokens`).
 * - **An upper bound**: never less than `countTokens(text)`.
 * - **Exact** — equal to `countTokens(text)` — whenever no pre-token is longer than
 *   `LONG_PRE_TOKEN_CHARS`, which is the case of ordinary text.
 *
 * How: the text is split into pre-tokens by o200k_base's own regex, as the tokenizer does, and
 * byte-pair encoding never crosses a pre-token, so the count is the sum over pre-tokens. A short
 * pre-token is encoded exactly (`./bpe`: the same merges as gpt-tokenizer, with a heap instead of
 * a rescan after every merge); a longer one counts its UTF-8 bytes, which bound its
 * tokens because every token of a byte-level BPE is at least one byte.
 */
export const countTokensBounded: (text: string) => number = /* @__PURE__ */ warmedUp(countBoundedCold);

function countBoundedCold(text: string): number {
  let total = 0;
  const re = PRE_TOKEN;
  re.lastIndex = 0;
  for (let match = re.exec(text); match !== null; match = re.exec(text)) {
    const piece = match[0];
    total += piece.length > LONG_PRE_TOKEN_CHARS ? utf8Length(piece) : encodePreToken(piece);
  }
  return total;
}

/**
 * The most UTF-16 code units `countTokensBoundedAsync` counts in one event-loop turn: a few
 * milliseconds of the slowest text (random code points), well under a millisecond of prose.
 */
export const TOKEN_COUNT_SLICE_CHARS = 4096;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * `countTokensBounded(text)` — the same number — counted in slices of at most
 * `TOKEN_COUNT_SLICE_CHARS` code units with the event loop free between them, so that a server
 * counting a large body keeps answering everything else (its /healthz included) meanwhile.
 * A short text is counted in the same turn.
 */
export async function countTokensBoundedAsync(text: string): Promise<number> {
  if (text.length <= TOKEN_COUNT_SLICE_CHARS) return countTokensBounded(text);
  // Its own regex: other counts run between the slices, and the position lives in `lastIndex`.
  const re = preTokenRegex();
  let total = 0;
  let sliceEnd = TOKEN_COUNT_SLICE_CHARS;
  for (let match = re.exec(text); match !== null; match = re.exec(text)) {
    const piece = match[0];
    total += piece.length > LONG_PRE_TOKEN_CHARS ? utf8Length(piece) : encodePreToken(piece);
    if (re.lastIndex >= sliceEnd && re.lastIndex < text.length) {
      const resumeAt = re.lastIndex;
      await nextTurn();
      re.lastIndex = resumeAt;
      sliceEnd = resumeAt + TOKEN_COUNT_SLICE_CHARS;
    }
  }
  return total;
}

/**
 * Prompt tokens of a chat request, counted as OpenAI counts them for gpt-4o — 3 framing tokens per
 * message, its role and content, plus 3 for the primed reply — with `countTokensBounded`, so in
 * linear time, never below the exact count and equal to it for ordinary text. This is exactly what
 * the simulator reports as `usage.prompt_tokens` for the same messages.
 */
export function countChatTokensBounded(messages: ReadonlyArray<Pick<ChatMessage, 'content'> & { role: string }>): number {
  let total = TOKENS_PER_REPLY;
  for (const message of messages) total += TOKENS_PER_MESSAGE + countTokensBounded(message.role) + countTokensBounded(message.content);
  return total;
}

/**
 * The longest prefix of `text` that is at most `maxTokens` tokens, cut on a token boundary, in
 * time linear in the prefix. A pre-token longer than `LONG_PRE_TOKEN_CHARS` is cut after
 * (maxTokens − tokens before it) bytes instead, on a code-point boundary. Always a true prefix of
 * `text`, and `countTokensBounded(truncateToTokens(text, n)) ≤ n`.
 */
export function truncateToTokens(text: string, maxTokens: number): string {
  if (maxTokens <= 0) return '';
  let used = 0;
  const re = PRE_TOKEN;
  re.lastIndex = 0;
  for (let match = re.exec(text); match !== null; match = re.exec(text)) {
    const piece = match[0];
    const long = piece.length > LONG_PRE_TOKEN_CHARS;
    const n = long ? utf8Length(piece) : encodePreToken(piece);
    if (used + n <= maxTokens) {
      used += n;
      continue;
    }
    const keepBytes = long ? maxTokens - used : firstTokensByteLength(maxTokens - used);
    const cut = text.slice(0, match.index + utf8PrefixLength(piece, keepBytes));
    // Re-splitting a cut text can, rarely, tokenize its end differently: keep the promise anyway
    // (no text has more bounded tokens than UTF-8 bytes).
    return countTokensBounded(cut) <= maxTokens ? cut : text.slice(0, utf8PrefixLength(text, maxTokens));
  }
  return text;
}

/** UTF-16 length of the longest prefix of `text` that ends on a code point and is ≤ `maxBytes` in UTF-8. */
function utf8PrefixLength(text: string, maxBytes: number): number {
  let bytes = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    const size = c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
    if (bytes + size > maxBytes) break;
    bytes += size;
    i += pair ? 2 : 1;
  }
  return i;
}

/**
 * A few thousand characters of every kind the counter meets (words, CJK, emoji and ZWJ, symbols,
 * random code points, base64, long runs), deterministic.
 */
function warmUpText(units: number, seed: number): string {
  let state = seed;
  const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 4294967296);
  const words = 'the quota vault charges every call before it is made and settles the exact tokens of Ünïcode naïve café'.split(' ');
  const parts: string[] = [];
  let size = 0;
  while (size < units) {
    let part: string;
    const kind = Math.floor(random() * 8);
    if (kind === 0) part = ` ${words[Math.floor(random() * words.length)]}`;
    else if (kind === 1) part = String.fromCharCode(0x4e00 + Math.floor(random() * 0x5000));
    else if (kind === 2) part = ['👩‍👩‍👧‍👦', '🏳️‍🌈', '👍🏽', '\u200d', '!?', '—'][Math.floor(random() * 6)];
    else if (kind === 3) {
      const cp = 1 + Math.floor(random() * 0x10ffff);
      part = cp >= 0xd800 && cp <= 0xdfff ? '\ufffd' : String.fromCodePoint(cp);
    } else if (kind === 4) part = Math.floor(random() * 0xffffffff).toString(36) + String.fromCharCode(65 + Math.floor(random() * 26));
    else if (kind === 5) part = String.fromCharCode(0x430 + Math.floor(random() * 32));
    else if (kind === 6) part = ` ${Math.floor(random() * 100000)}`;
    else part = random() < 0.05 ? 'x'.repeat(LONG_PRE_TOKEN_CHARS + 1) : '\n';
    parts.push(part);
    size += part.length;
  }
  return parts.join('');
}

/**
 * Runs the counter over warm-up text once and returns it, so that a service's first request does
 * not pay for the JIT (and irregexp) compiling the hot loops: a first 100,000-character body would
 * take ~5× its steady cost. It runs at import, where `countTokensBounded` is defined; marked pure, so
 * a bundle that never counts (the enrichment worker only builds task messages) drops the call, the
 * counter and the o200k_base vocabulary (./bpe; read from the build's vocabulary file, or built
 * from gpt-tokenizer's ranks where there is none) with it.
 */
function warmedUp(count: (text: string) => number): (text: string) => number {
  for (let round = 0; round < WARM_UP_ROUNDS; round++) count(warmUpText(WARM_UP_UNITS, round + 1));
  return count;
}
