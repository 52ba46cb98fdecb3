import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import O200K_RANKS from 'gpt-tokenizer/cjs/bpeRanks/o200k_base';
import { encodePreToken, firstTokensByteLength, loadVocabulary, o200kVocabularyFile, preTokenRegex, Vocabulary, vocabularyArraysFromRanks } from './bpe';
import { countTokens } from './tokens';
import { parseVocabulary, serializeVocabulary, VOCABULARY_FILE_NAME, type VocabularyArrays } from './vocabulary-file';

/**
 * The vocabulary file (what the build writes beside a bundle) against gpt-tokenizer's ranks (what
 * it replaces at run time): the same arrays, hence a Vocabulary that encodes every text the same.
 */

const fromRanks = vocabularyArraysFromRanks(O200K_RANKS);
const file = serializeVocabulary(fromRanks);
const fromFile = parseVocabulary(file);
const byRanks = new Vocabulary(fromRanks);
const byFile = new Vocabulary(fromFile);

const bytes = (a: Uint8Array | Int32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Every token boundary of `piece` as `v` encodes it: the byte lengths of its first 1, 2, … tokens. */
function boundaries(piece: string, v: Vocabulary): number[] {
  const count = encodePreToken(piece, v);
  return Array.from({ length: count }, (_, i) => firstTokensByteLength(i + 1));
}

/** Words, CJK, emoji and ZWJ, random code points (lone surrogates included), BOMs, control-token text, runs. */
const text = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'grapheme-ascii', maxLength: 200 }),
      fc.constantFrom('<|endoftext|>', '\ufeffusing', '\ufeff\n\n', ' naïve café', '中文分词', '👩‍👩‍👧‍👦🏳️‍🌈', '\u0000\t\r\n'),
      fc.tuple(fc.constantFrom('a', '中', '😀', ' ', '\ufeff', '7', '-'), fc.integer({ min: 1, max: 200 })).map(([c, n]) => c.repeat(n)),
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(''));

describe('vocabulary file', () => {
  it('holds exactly the arrays built from the ranks', () => {
    for (const key of ['pool', 'start', 'isString', 'slots'] as const satisfies ReadonlyArray<keyof VocabularyArrays>) {
      expect(fromFile[key].constructor).toBe(fromRanks[key].constructor);
      expect(fromFile[key].length).toBe(fromRanks[key].length);
      expect(bytes(fromFile[key]).equals(bytes(fromRanks[key]))).toBe(true);
    }
    expect(fromRanks.isString.length).toBe(O200K_RANKS.length);
    // Views into the file's bytes, not copies.
    expect(fromFile.pool.buffer).toBe(file.buffer);
  });

  it('makes a Vocabulary that encodes every pre-token as the one built from the ranks, token boundary for boundary', () => {
    fc.assert(
      fc.property(text, (t) => {
        let total = 0;
        for (const [piece] of t.matchAll(preTokenRegex())) {
          const expected = boundaries(piece, byRanks);
          expect(boundaries(piece, byFile)).toEqual(expected);
          total += expected.length;
        }
        // Every pre-token here is short: both are gpt-tokenizer's own count.
        expect(total).toBe(countTokens(t));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses bytes it did not write: another magic or version, a wrong length, any altered byte', () => {
    const altered = (at: number) => {
      const copy = Buffer.from(file);
      copy[at] ^= 1;
      return copy;
    };
    expect(() => parseVocabulary(altered(0))).toThrow('not a vocabulary file');
    expect(() => parseVocabulary(altered(8))).toThrow(/version/);
    expect(() => parseVocabulary(file.subarray(0, file.length - 1))).toThrow(/bytes/);
    expect(() => parseVocabulary(Buffer.concat([file, Buffer.of(0)]))).toThrow(/bytes/);
    expect(() => parseVocabulary(altered(file.length - 1))).toThrow(/checksum/);
    expect(() => parseVocabulary(altered(100))).toThrow(/checksum/);
  });

  it('reads a copy that is not 4-byte aligned', () => {
    const unaligned = Buffer.alloc(file.length + 1).subarray(1);
    file.copy(unaligned);
    expect(bytes(parseVocabulary(unaligned).slots).equals(bytes(fromRanks.slots))).toBe(true);
  });

  describe('loadVocabulary', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'qv-vocab-'));
    });
    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
      jest.restoreAllMocks();
    });

    it('reads the file in the directory it is given', () => {
      writeFileSync(join(dir, VOCABULARY_FILE_NAME), file);
      const { vocabulary, source } = loadVocabulary(dir);
      expect(source).toBe('file');
      expect(boundaries(' hello wörld', vocabulary)).toEqual(boundaries(' hello wörld', byRanks));
    });

    it('builds from the ranks where there is no file, silently', () => {
      const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
      expect(loadVocabulary(dir).source).toBe('ranks');
      expect(warn).not.toHaveBeenCalled();
    });

    it('builds from the ranks, with a warning, where the file is not one it reads', () => {
      const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
      writeFileSync(join(dir, VOCABULARY_FILE_NAME), file.subarray(0, 1000));
      const { vocabulary, source } = loadVocabulary(dir);
      expect(source).toBe('ranks');
      expect(warn).toHaveBeenCalledWith(expect.stringContaining(VOCABULARY_FILE_NAME));
      expect(boundaries(' hello wörld', vocabulary)).toEqual(boundaries(' hello wörld', byRanks));
    });
  });

  it('is what the build wrote beside the bundles that count tokens', () => {
    expect(o200kVocabularyFile().equals(file)).toBe(true);
    // jest's globalSetup builds dist/ first; a checkout that has not built yet has nothing to compare.
    for (const service of ['api-service', 'llm-simulator']) {
      const built = join(__dirname, '../../../dist', service, VOCABULARY_FILE_NAME);
      if (existsSync(built)) expect(readFileSync(built).equals(file)).toBe(true);
    }
  });
});
