import { costUsd, DEFAULT_PRICE, priceOf, PRICING } from './pricing';

describe('costUsd', () => {
  it('prices input and output per million tokens', () => {
    expect(costUsd('gpt-4o-mini', 1_000_000, 1_000_000)).toBeCloseTo(0.75, 10);
    expect(costUsd('sim-1', 2000, 500)).toBeCloseTo((2000 * 0.15 + 500 * 0.6) / 1e6, 12);
    expect(costUsd('claude-3-5-haiku-latest', 1_000_000, 0)).toBeCloseTo(0.8, 10);
  });

  it('finds a dated variant by its family, preferring the longest name', () => {
    expect(priceOf('gpt-4o-mini-2024-07-18')).toBe(PRICING['gpt-4o-mini']);
    expect(priceOf('gpt-4o-2024-08-06')).toBe(PRICING['gpt-4o']);
  });

  it('uses the default price for an unknown model and never returns NaN', () => {
    expect(priceOf('llama3.1:8b')).toBe(DEFAULT_PRICE);
    expect(costUsd('llama3.1:8b', 1_000_000, 1_000_000)).toBe(5);
    expect(costUsd('sim-1', Number.NaN, -5)).toBe(0);
    expect(costUsd('sim-1', Infinity, 0)).toBe(0);
  });

  it('gives the simulator a non-zero price', () => {
    expect(costUsd('sim-1', 100, 100)).toBeGreaterThan(0);
  });
});
