import fc from 'fast-check';

/**
 * What a hostile client sends (issue 10): NUL bytes, lone surrogates, 100,001-character runs of one
 * character, integers past 2^31 and 2^53, and shapes that are plausible but for one field.
 */
export const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udc00y', '\udbff\udbff', '<script>alert(1)</script>', 'javascript:alert(1)', 'file:///etc/passwd', "'; DROP TABLE users; --", '%00', '..%2f..%2f'),
  fc.nat({ max: 3 }).map((n) => ['a', '中', '\u200d', '😀'][n].repeat(100_001)),
  fc.string({ maxLength: 10 }).map((s) => `${s}\u0000${s}`),
);
export const hostileNumber = fc.oneof(fc.integer(), fc.constantFrom(2 ** 31, 2 ** 31 - 1, 2 ** 53, 2 ** 63, -1, -(2 ** 31), 1e308, 0.5, -0), fc.double({ noNaN: true }));
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null), fc.array(hostileString, { maxLength: 3 }), fc.dictionary(hostileString, hostileString, { maxKeys: 2 }));
/** A body: a plausible shape with any field replaced by hostile values, or anything at all. */
export const bodyOf = (fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc.oneof(fc.record(Object.fromEntries(Object.keys(fields).map((k) => [k, fc.oneof(fields[k], hostileValue)])), { requiredKeys: [] }), hostileValue);
