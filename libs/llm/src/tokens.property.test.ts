import fc from 'fast-check';
import { preTokenRegex } from './bpe';
import { countTokens, countTokensBounded, LONG_PRE_TOKEN_CHARS, truncateToTokens } from './tokens';

/**
 * countTokensBounded against gpt-tokenizer's own count (`countTokens`), on random text: never
 * below it, and equal to it whenever no pre-token is longer than LONG_PRE_TOKEN_CHARS. Runs of one
 * character are kept to ~3,000 UTF-8 bytes, where the reference (quadratic in a pre-token's
 * length) still answers in milliseconds.
 */

const RUN_MAX_BYTES = 3000;

/** One character to repeat: letters of several scripts, marks, emoji, ZWJ, spaces, digits, symbols, NUL, a BOM. */
const runChar = fc.oneof(
  fc.constantFrom('a', 'Z', '中', 'é', '\u0301', '😀', '\u200d', '\ufe0f', ' ', '\n', '\t', '7', '!', '-', '\u0000', '\ufeff', 'ก', 'я'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
const run = fc.tuple(runChar, fc.integer({ min: 1, max: RUN_MAX_BYTES })).map(([c, n]) => c.repeat(Math.max(1, Math.floor(n / Buffer.byteLength(c)))));
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const specialText = fc.constantFrom('<|endoftext|>', '<|im_start|>', '<|im_sep|>', '<|im_end|>', '<|fim_prefix|>', '<|endofprompt|>', '\ufeffusing', '\ufeff\n\n');

/** A text: a few random pieces of every kind, concatenated. */
const text = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
      { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
      { weight: 2, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 40 }) },
      { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 300 }) },
      { weight: 2, arbitrary: run },
      { weight: 1, arbitrary: loneSurrogate },
      { weight: 1, arbitrary: specialText },
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(''));

/** Words of ordinary text (any script, at most 40 code points) between single spaces or newlines. */
const shortPreTokens = fc
  .array(fc.tuple(fc.oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 40 })), fc.constantFrom(' ', '\n', ', ')), { maxLength: 30 })
  .map((words) => words.map(([w, sep]) => w + sep).join(''));

function longestPreToken(t: string): number {
  let longest = 0;
  for (const [piece] of t.matchAll(preTokenRegex())) longest = Math.max(longest, piece.length);
  return longest;
}

describe('countTokensBounded (property)', () => {
  it('is never below the exact count, and equal to it when every pre-token is short', () => {
    fc.assert(
      fc.property(text, (t) => {
        const exact = countTokens(t);
        const bounded = countTokensBounded(t);
        expect(bounded).toBeGreaterThanOrEqual(exact);
        if (longestPreToken(t) <= LONG_PRE_TOKEN_CHARS) expect(bounded).toBe(exact);
      }),
      { numRuns: 300 },
    );
  });

  it('is exact for words separated by spaces', () => {
    fc.assert(
      fc.property(shortPreTokens, (t) => {
        expect(longestPreToken(t)).toBeLessThanOrEqual(LONG_PRE_TOKEN_CHARS);
        expect(countTokensBounded(t)).toBe(countTokens(t));
      }),
      { numRuns: 300 },
    );
  });

  it('is exact on random code points (any kind of pre-token up to the threshold)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 600 }), (t) => {
        if (longestPreToken(t) <= LONG_PRE_TOKEN_CHARS) expect(countTokensBounded(t)).toBe(countTokens(t));
        else expect(countTokensBounded(t)).toBeGreaterThanOrEqual(countTokens(t));
      }),
      { numRuns: 200 },
    );
  });
});

describe('truncateToTokens (property)', () => {
  it('returns a prefix of at most n bounded tokens, the whole text when it fits', () => {
    fc.assert(
      fc.property(text, fc.integer({ min: 0, max: 400 }), (t, n) => {
        const cut = truncateToTokens(t, n);
        expect(t.startsWith(cut)).toBe(true);
        expect(countTokensBounded(cut)).toBeLessThanOrEqual(n);
        if (countTokensBounded(t) <= n) expect(cut).toBe(t);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps nearly n tokens of ordinary text: it cuts on a token boundary, backing off at most into one code point', () => {
    fc.assert(
      fc.property(shortPreTokens, fc.integer({ min: 1, max: 60 }), (t, n) => {
        const cut = truncateToTokens(t, n);
        expect(countTokens(cut)).toBeLessThanOrEqual(n);
        // A token boundary inside a 4-byte character moves back to the character's start: ≤ 3 tokens lost.
        if (countTokens(t) > n) expect(countTokens(cut)).toBeGreaterThanOrEqual(n - 3);
      }),
      { numRuns: 200 },
    );
  });
});
