import type { QuotaStatus, QuotaUsage } from '@qv/contracts';
import { QUOTA_HEADER_NAMES, quotaHeaders } from './quota-headers';

const usage = (used: number, limit: number | null, resetAt: string | null = null): QuotaUsage => ({
  used,
  limit,
  remaining: limit === null ? null : limit - used,
  resetAt,
  level: 'ok',
});

describe('quotaHeaders', () => {
  it('maps daily enrichments, daily tokens and concurrency; reset as epoch seconds; unlimited as -1', () => {
    const status: QuotaStatus = {
      plan: 'free',
      level: 'ok',
      quotas: {
        enrichmentsPerDay: usage(3, 50, '2026-11-26T00:00:00.000Z'),
        concurrentJobs: usage(1, 3),
        callsPerHour: usage(3, 100),
        tokensPerDay: usage(1200, null),
        tokensPerMonth: usage(1200, 100_000),
      },
    };
    expect(quotaHeaders(status)).toEqual({
      'X-AI-Quota-Limit': '50',
      'X-AI-Quota-Remaining': '47',
      'X-AI-Quota-Reset': String(Date.UTC(2026, 10, 26) / 1000),
      'X-AI-Quota-Tokens-Limit': '-1',
      'X-AI-Quota-Tokens-Remaining': '-1',
      'X-AI-Quota-Concurrency-Limit': '3',
      'X-AI-Quota-Concurrency-Remaining': '2',
    });
    expect(Object.keys(quotaHeaders(status))).toEqual([...QUOTA_HEADER_NAMES]);
  });

  it('never reports a negative remaining (a settlement above the estimate can overshoot)', () => {
    const over = usage(60, 50);
    const status = { plan: 'free', level: 'exceeded', quotas: { enrichmentsPerDay: over, concurrentJobs: over, callsPerHour: over, tokensPerDay: over, tokensPerMonth: over } } as QuotaStatus;
    expect(quotaHeaders(status)['X-AI-Quota-Remaining']).toBe('0');
  });
});
