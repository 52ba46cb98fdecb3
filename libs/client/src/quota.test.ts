import { formatDailyUsage, parseQuotaHeaders } from './quota';

const headers = (h: Record<string, string>) => new Headers(h);

describe('parseQuotaHeaders', () => {
  it('reads every X-AI-Quota-* header, case-insensitively', () => {
    const q = parseQuotaHeaders(
      headers({
        'x-ai-quota-limit': '50',
        'X-AI-Quota-Remaining': '49',
        'X-AI-Quota-Reset': '1767312000',
        'X-AI-Quota-Tokens-Limit': '100000',
        'X-AI-Quota-Tokens-Remaining': '99500',
        'X-AI-Quota-Concurrency-Limit': '3',
        'X-AI-Quota-Concurrency-Remaining': '2',
      }),
    );
    expect(q).toEqual({
      limit: 50,
      remaining: 49,
      used: 1,
      resetAt: new Date(1767312000 * 1000),
      tokensLimit: 100000,
      tokensRemaining: 99500,
      concurrencyLimit: 3,
      concurrencyRemaining: 2,
    });
    expect(formatDailyUsage(q!)).toBe('1/50 enrichments today');
  });

  it('reads -1 as unlimited (null), and a reset of 0 as none', () => {
    const q = parseQuotaHeaders(headers({ 'X-AI-Quota-Limit': '-1', 'X-AI-Quota-Remaining': '-1', 'X-AI-Quota-Reset': '0', 'X-AI-Quota-Concurrency-Limit': '-1' }));
    expect(q).toMatchObject({ limit: null, remaining: null, used: null, resetAt: null, concurrencyLimit: null, tokensLimit: null });
    expect(formatDailyUsage(q!)).toBe('Unlimited enrichments today');
  });

  it('is undefined on an answer without quota headers, and ignores malformed values', () => {
    expect(parseQuotaHeaders(headers({ 'content-type': 'application/json' }))).toBeUndefined();
    expect(parseQuotaHeaders(headers({ 'X-AI-Quota-Limit': 'lots', 'X-AI-Quota-Remaining': '3' }))).toMatchObject({ limit: null, remaining: 3, used: null });
  });

  it('formats the usage indicator', () => {
    expect(formatDailyUsage({ limit: 50, remaining: 1, used: 49 } as never)).toBe('49/50 enrichments today');
    expect(formatDailyUsage({ limit: 50, remaining: 0, used: 50 } as never)).toBe('50/50 enrichments today');
  });
});
