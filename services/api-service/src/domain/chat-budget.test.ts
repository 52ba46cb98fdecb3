import { QuotaExceededError, type QuotaStatus, type QuotaUsage } from '@qv/contracts';
import { capCompletion, DEFAULT_COMPLETION_CAP } from './chat-budget';

const usage = (used: number, limit: number | null): QuotaUsage => ({ used, limit, remaining: limit === null ? null : limit - used, resetAt: '2026-12-03T00:00:00.000Z', level: 'ok' });
const status = (day: QuotaUsage, month: QuotaUsage): QuotaStatus => ({
  plan: 'pro_monthly',
  level: 'ok',
  quotas: { enrichmentsPerDay: usage(0, 100), concurrentJobs: usage(0, 10), callsPerHour: usage(0, 100), tokensPerDay: day, tokensPerMonth: month },
});
const now = Date.parse('2026-12-02T23:59:00.000Z');

describe('capCompletion', () => {
  it('keeps the cap asked for when both budgets have room for prompt + cap', () => {
    expect(capCompletion(status(usage(0, 1000), usage(0, 10_000)), 100, 200, now)).toEqual({ maxTokens: 200, clamped: false });
  });

  it('cuts the cap to the tighter budget left after the prompt: day, or month', () => {
    expect(capCompletion(status(usage(700, 1000), usage(0, 10_000)), 100, 500, now)).toEqual({ maxTokens: 200, clamped: true });
    expect(capCompletion(status(usage(0, 1000), usage(9_850, 10_000)), 100, 500, now)).toEqual({ maxTokens: 50, clamped: true });
  });

  it('uses the default cap when none is asked, and no cut when unlimited', () => {
    expect(capCompletion(status(usage(5, null), usage(5, null)), 100, undefined, now)).toEqual({ maxTokens: DEFAULT_COMPLETION_CAP, clamped: false });
  });

  it('refuses with the day code first, then the month code, when not one answer token is left', () => {
    const day = () => capCompletion(status(usage(900, 1000), usage(900, 1000)), 100, 10, now);
    expect(day).toThrow(QuotaExceededError);
    expect(day).toThrow(expect.objectContaining({ code: 'DAILY_TOKEN_QUOTA_EXCEEDED', retryAfterSeconds: 60 }));
    const month = () => capCompletion(status(usage(0, 1000), usage(9_950, 10_000)), 50, 10, now);
    expect(month).toThrow(expect.objectContaining({ code: 'MONTHLY_TOKEN_QUOTA_EXCEEDED' }));
  });
});
