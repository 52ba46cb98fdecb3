import { idFloor, newId } from './ids';

describe('newId', () => {
  it('is the prefix, 10 characters of milliseconds and 16 random ones, in Crockford base32', () => {
    expect(newId('itm', 0)).toMatch(/^itm_0{10}[0-9a-hjkmnp-tv-z]{16}$/);
    expect(newId('rsv')).toMatch(/^rsv_[0-9a-hjkmnp-tv-z]{26}$/);
  });

  it('sorts by creation time', () => {
    const ids = [1, 32, 1_000, 1_700_000_000_000, 2 ** 47].map((ms) => newId('evt', ms));
    expect([...ids].sort()).toEqual(ids);
  });

  it('never repeats, across many refills of its random pool, and its random part uses every symbol evenly', () => {
    const n = 100_000;
    const randoms = new Set<string>();
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const random = newId('itm', 0).slice(14);
      randoms.add(random);
      for (const c of random) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect(randoms.size).toBe(n);
    // 16 symbols of 5 random bits per id: each of the 32 about 1/32 of them.
    expect(counts.size).toBe(32);
    const expected = (n * 16) / 32;
    for (const count of counts.values()) expect(Math.abs(count - expected) / expected).toBeLessThan(0.05);
  });
});

describe('idFloor', () => {
  it('sorts above every id made before its millisecond and below every one made at or after it', () => {
    for (const ms of [0, 1, 1_700_000_000_000, 2 ** 47]) {
      const floor = idFloor('led', ms);
      for (let i = 0; i < 100; i++) {
        expect(newId('led', ms) > floor).toBe(true);
        expect(newId('led', ms + 1 + i) > floor).toBe(true);
        if (ms > 0) expect(newId('led', ms - 1) < floor).toBe(true);
      }
    }
  });
});
