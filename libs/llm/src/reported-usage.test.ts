import { reportedTokens, reportedUsage } from './reported-usage';

describe('a provider’s reported token counts', () => {
  it('are counts only from 0 to 2^31 − 1, integers, numbers', () => {
    expect([0, 1, 2 ** 31 - 1].map(reportedTokens)).toEqual([0, 1, 2 ** 31 - 1]);
    expect([-1, 2 ** 31, 1.5, '12', NaN, Infinity, null, undefined, {}, 1e300].map(reportedTokens)).toEqual(Array(10).fill(undefined));
  });

  it('make a usage only when both are counts', () => {
    expect(reportedUsage(10, 5)).toEqual({ promptTokens: 10, completionTokens: 5 });
    expect(reportedUsage(-10, 5)).toBeUndefined();
    expect(reportedUsage(10, '5')).toBeUndefined();
  });
});
