import { DEFAULT_PLANS } from '@qv/contracts';
import { levelOf, worstLevel } from './levels';
import { concurrencyRetryAfter, hourlyRetryAfter, secondsUntil, windowRetryAfter } from './retry-after';
import { buildQuotaStatus, EMPTY_USAGE, refusalMessage, retryAfterFor, type UsageSnapshot } from './usage';
import { dayWindow, monthWindow, rollingHourStart } from './windows';

const at = (iso: string) => new Date(iso);

describe('UTC windows', () => {
  it('a day runs from UTC midnight to the next, whatever the time of day', () => {
    const w = dayWindow(at('2026-03-14T23:59:59.999Z'));
    expect(w.start.toISOString()).toBe('2026-03-14T00:00:00.000Z');
    expect(w.end.toISOString()).toBe('2026-03-15T00:00:00.000Z');
    expect(w.key).toBe('2026-03-14');
    expect(dayWindow(at('2026-03-15T00:00:00.000Z')).key).toBe('2026-03-15');
  });

  it('crosses month and year ends, and leap days', () => {
    expect(dayWindow(at('2026-01-31T12:00:00Z')).end.toISOString()).toBe('2026-02-01T00:00:00.000Z');
    expect(dayWindow(at('2026-12-31T18:30:00Z')).end.toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(dayWindow(at('2028-02-28T10:00:00Z')).end.toISOString()).toBe('2028-02-29T00:00:00.000Z');
  });

  it('a month runs from the 1st to the 1st of the next, December into January', () => {
    const dec = monthWindow(at('2026-12-31T23:59:59.999Z'));
    expect(dec.start.toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(dec.end.toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(dec.key).toBe('2026-12-01');
    expect(monthWindow(at('2027-01-01T00:00:00.000Z')).key).toBe('2027-01-01');
    expect(monthWindow(at('2028-02-15T00:00:00Z')).end.toISOString()).toBe('2028-03-01T00:00:00.000Z');
  });

  it('the rolling hour starts exactly 3 600 000 ms earlier', () => {
    expect(rollingHourStart(at('2026-01-01T00:30:00Z')).toISOString()).toBe('2025-12-31T23:30:00.000Z');
  });
});

describe('levels', () => {
  it.each([
    [749, 1000, 'ok'],
    [750, 1000, 'warning'],
    [899, 1000, 'warning'],
    [900, 1000, 'critical'],
    [999, 1000, 'critical'],
    [1000, 1000, 'exceeded'],
    [1200, 1000, 'exceeded'],
    [0, 1000, 'ok'],
  ] as const)('%i of %i is %s', (used, limit, level) => {
    expect(levelOf(used, limit)).toBe(level);
  });

  it('74.9 % stays ok and 89.9 % stays warning (no rounding up)', () => {
    expect(levelOf(7490, 10_000)).toBe('ok');
    expect(levelOf(8990, 10_000)).toBe('warning');
    expect(levelOf(74.9, 100)).toBe('ok');
    expect(levelOf(89.9, 100)).toBe('warning');
  });

  it('unlimited is ok; a limit of 0 is exceeded', () => {
    expect(levelOf(1_000_000, null)).toBe('ok');
    expect(levelOf(0, 0)).toBe('exceeded');
  });

  it('the worst level wins', () => {
    expect(worstLevel(['ok', 'critical', 'warning'])).toBe('critical');
    expect(worstLevel([])).toBe('ok');
  });
});

describe('retry-after', () => {
  const now = at('2026-05-31T23:59:58.500Z');

  it('is whole seconds rounded up, never below 1', () => {
    expect(secondsUntil(at('2026-05-31T23:59:59.000Z'), now)).toBe(1);
    expect(secondsUntil(at('2026-05-31T23:59:58.000Z'), now)).toBe(1);
    expect(secondsUntil(at('2026-06-01T00:00:00.000Z'), now)).toBe(2);
  });

  it('daily and monthly quotas free at the next UTC midnight and month start', () => {
    const noon = at('2026-05-14T12:00:00.000Z');
    expect(retryAfterFor('DAILY_QUOTA_EXCEEDED', EMPTY_USAGE, noon, null)).toBe(12 * 3600);
    expect(retryAfterFor('DAILY_TOKEN_QUOTA_EXCEEDED', EMPTY_USAGE, noon, null)).toBe(12 * 3600);
    expect(retryAfterFor('MONTHLY_TOKEN_QUOTA_EXCEEDED', EMPTY_USAGE, noon, null)).toBe(17 * 86400 + 12 * 3600);
    expect(windowRetryAfter(monthWindow(now).end, now)).toBe(2);
  });

  it('the rolling hour frees when the freeing call turns 60 minutes old', () => {
    const t = at('2026-05-14T12:00:00.000Z');
    expect(hourlyRetryAfter(at('2026-05-14T11:15:00.000Z'), t)).toBe(15 * 60);
    expect(hourlyRetryAfter(at('2026-05-14T11:00:00.001Z'), t)).toBe(1);
    expect(hourlyRetryAfter(null, t)).toBe(3600);
    expect(retryAfterFor('HOURLY_RATE_LIMIT_EXCEEDED', EMPTY_USAGE, t, at('2026-05-14T11:30:00.200Z'))).toBe(1801);
  });

  it('concurrency waits a short constant, or less when a reservation expires sooner', () => {
    const t = at('2026-05-14T12:00:00.000Z');
    expect(concurrencyRetryAfter(null, t)).toBe(2);
    expect(concurrencyRetryAfter(at('2026-05-14T12:15:00.000Z'), t)).toBe(2);
    expect(concurrencyRetryAfter(at('2026-05-14T12:00:00.300Z'), t)).toBe(1);
  });
});

describe('refusalMessage', () => {
  it('names the limit and, for tokens, what is left of it', () => {
    const limits = { concurrentJobs: 3, callsPerHour: 100, enrichmentsPerDay: 50, tokensPerDay: 10_000, tokensPerMonth: 100_000 };
    const usage = { ...EMPTY_USAGE, tokensToday: 9_900, tokensThisMonth: 100_050 };
    expect(refusalMessage('CONCURRENCY_LIMIT_EXCEEDED', limits, usage, 10)).toBe('All 3 concurrent job slots are in use');
    expect(refusalMessage('HOURLY_RATE_LIMIT_EXCEEDED', limits, usage, 10)).toBe('The limit of 100 AI calls per hour is reached');
    expect(refusalMessage('DAILY_QUOTA_EXCEEDED', limits, usage, 10)).toBe('The daily quota of 50 enrichments is used up');
    expect(refusalMessage('DAILY_TOKEN_QUOTA_EXCEEDED', limits, usage, 250)).toBe('This request needs up to 250 tokens; 100 of the daily 10000 remain');
    // Over the limit (a settle above its estimate): nothing remains, never a negative figure.
    expect(refusalMessage('MONTHLY_TOKEN_QUOTA_EXCEEDED', limits, usage, 250)).toBe('This request needs up to 250 tokens; 0 of the monthly 100000 remain');
  });
});

describe('buildQuotaStatus', () => {
  it('reports used, remaining, reset and level per quota, and the worst level overall', () => {
    const now = at('2026-05-14T12:00:00.000Z');
    const { concurrentJobs, callsPerHour, enrichmentsPerDay, tokensPerDay, tokensPerMonth } = DEFAULT_PLANS.find((p) => p.id === 'free')!;
    const limits = { concurrentJobs, callsPerHour, enrichmentsPerDay, tokensPerDay, tokensPerMonth };
    const usage: UsageSnapshot = { inFlight: 2, earliestExpiry: at('2026-05-14T12:10:00.000Z'), callsInHour: 2, oldestCallAt: at('2026-05-14T11:20:00.000Z'), enrichmentsToday: 45, tokensToday: 9000, tokensThisMonth: 20_100 };
    const status = buildQuotaStatus('free', limits, usage, now);
    expect(status.plan).toBe('free');
    expect(status.level).toBe('critical');
    expect(status.quotas.enrichmentsPerDay).toEqual({ used: 45, limit: 50, remaining: 5, resetAt: '2026-05-15T00:00:00.000Z', level: 'critical' });
    expect(status.quotas.concurrentJobs).toEqual({ used: 2, limit: 3, remaining: 1, resetAt: '2026-05-14T12:10:00.000Z', level: 'ok' });
    expect(status.quotas.callsPerHour).toEqual({ used: 2, limit: 100, remaining: 98, resetAt: '2026-05-14T12:20:00.000Z', level: 'ok' });
    expect(status.quotas.tokensPerDay).toEqual({ used: 9000, limit: 10_000, remaining: 1000, resetAt: '2026-05-15T00:00:00.000Z', level: 'critical' });
    expect(status.quotas.tokensPerMonth).toEqual({ used: 20_100, limit: 100_000, remaining: 79_900, resetAt: '2026-06-01T00:00:00.000Z', level: 'ok' });
  });

  it('unlimited quotas have null limit and remaining and are ok', () => {
    const status = buildQuotaStatus('enterprise', { concurrentJobs: 50, callsPerHour: null, enrichmentsPerDay: null, tokensPerDay: null, tokensPerMonth: null }, { ...EMPTY_USAGE, enrichmentsToday: 10_000 }, at('2026-05-14T12:00:00Z'));
    expect(status.quotas.enrichmentsPerDay).toMatchObject({ used: 10_000, limit: null, remaining: null, level: 'ok' });
    expect(status.quotas.callsPerHour.resetAt).toBeNull();
    expect(status.level).toBe('ok');
  });
});
