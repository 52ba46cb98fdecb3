import type { CacheKeyParts } from '@qv/contracts';
import { assertValidScope, cacheKey, normalizeInput } from './cache-key';

const base: CacheKeyParts = { tier: 'content', scope: 'usr_a', task: 'summarize', model: 'sim-1', promptVersion: 'v1', input: 'Hello world' };

describe('cacheKey', () => {
  it('is a SHA-256 hex digest, stable for the same parts', () => {
    expect(cacheKey(base)).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey({ ...base })).toBe(cacheKey(base));
  });

  it.each([
    ['scope', { scope: 'usr_b' }],
    ['prompt version', { promptVersion: 'v2' }],
    ['model', { model: 'sim-2' }],
    ['task', { task: 'tag' }],
    ['tier', { tier: 'session' as const }],
    ['input case', { input: 'hello world' }],
  ])('differs when the %s differs', (_what, change) => {
    expect(cacheKey({ ...base, ...change })).not.toBe(cacheKey(base));
  });

  it('does not let one field run into the next', () => {
    expect(cacheKey({ ...base, task: 'a', model: 'b:c' })).not.toBe(cacheKey({ ...base, task: 'a:b', model: 'c' }));
  });

  it('hashes the normalized input: whitespace runs, ends and Unicode composition do not matter', () => {
    const same = ['Hello world', '  Hello   world\n', 'Hello\t\tworld', 'Hello\u00a0world'];
    for (const input of same) expect(cacheKey({ ...base, input })).toBe(cacheKey(base));
    expect(cacheKey({ ...base, input: 'caf\u0065\u0301' })).toBe(cacheKey({ ...base, input: 'caf\u00e9' }));
    expect(normalizeInput('  a \n\n b  ')).toBe('a b');
  });

  it('refuses scopes that do not fit the tier', () => {
    expect(() => cacheKey({ ...base, tier: 'system', scope: 'usr_a' })).toThrow(/system tier is shared/);
    expect(() => cacheKey({ ...base, tier: 'content', scope: 'global' })).toThrow(/never "global"/);
    expect(() => cacheKey({ ...base, tier: 'session', scope: 'global' })).toThrow(/never "global"/);
    expect(() => cacheKey({ ...base, scope: 'usr_*' })).toThrow(/scope must be/);
    expect(() => cacheKey({ ...base, scope: 'usr:a' })).toThrow(/scope must be/);
    expect(() => assertValidScope('system', 'global')).not.toThrow();
    try {
      assertValidScope('content', 'global');
      throw new Error('unreachable');
    } catch (err) {
      expect((err as { code: string }).code).toBe('VALIDATION_FAILED');
    }
  });

  it('hashes a mutable key object from what it holds now, and gives a frozen one the same key each time', () => {
    const mutable: CacheKeyParts = { ...base };
    const before = cacheKey(mutable);
    mutable.input = 'Goodbye world';
    expect(cacheKey(mutable)).not.toBe(before);
    expect(cacheKey(mutable)).toBe(cacheKey({ ...base, input: 'Goodbye world' }));
    const frozen = Object.freeze({ ...base });
    expect(cacheKey(frozen)).toBe(before);
    expect(cacheKey(frozen)).toBe(before);
  });
});
