import type { QuotaErrorCode, QuotaStatus, QuotaUsage } from '@qv/contracts';
import { levelOf, worstLevel } from './levels';
import type { ChargedLimits } from './limits';
import { concurrencyRetryAfter, hourlyRetryAfter, windowRetryAfter } from './retry-after';
import { dayWindow, HOUR_MS, monthWindow } from './windows';

/** What a user has used (prisma/functions/030_quota_usage.sql). */
export interface UsageSnapshot {
  /** Reservations with status RESERVED. */
  inFlight: number;
  /** The earliest `expires_at` among them. */
  earliestExpiry: Date | null;
  /** Reservations created in the rolling hour that were not RELEASED (by whole minutes when the hourly limit is unlimited). */
  callsInHour: number;
  /** The oldest of those. */
  oldestCallAt: Date | null;
  enrichmentsToday: number;
  tokensToday: number;
  tokensThisMonth: number;
}

export const EMPTY_USAGE: UsageSnapshot = {
  inFlight: 0,
  earliestExpiry: null,
  callsInHour: 0,
  oldestCallAt: null,
  enrichmentsToday: 0,
  tokensToday: 0,
  tokensThisMonth: 0,
};

/**
 * The words of a refusal that quota_charge decided (prisma/functions/040_quota_charge.sql): the
 * limit it names and what is left of it. `usage` is as the charge read it (a refusal writes nothing).
 */
export function refusalMessage(code: QuotaErrorCode, limits: ChargedLimits, usage: UsageSnapshot, estimatedTokens: number): string {
  switch (code) {
    case 'CONCURRENCY_LIMIT_EXCEEDED':
      return `All ${limits.concurrentJobs} concurrent job slots are in use`;
    case 'HOURLY_RATE_LIMIT_EXCEEDED':
      return `The limit of ${limits.callsPerHour} AI calls per hour is reached`;
    case 'DAILY_QUOTA_EXCEEDED':
      return `The daily quota of ${limits.enrichmentsPerDay} enrichments is used up`;
    case 'DAILY_TOKEN_QUOTA_EXCEEDED':
      return `This request needs up to ${estimatedTokens} tokens; ${Math.max(0, (limits.tokensPerDay ?? 0) - usage.tokensToday)} of the daily ${limits.tokensPerDay} remain`;
    case 'MONTHLY_TOKEN_QUOTA_EXCEEDED':
      return `This request needs up to ${estimatedTokens} tokens; ${Math.max(0, (limits.tokensPerMonth ?? 0) - usage.tokensThisMonth)} of the monthly ${limits.tokensPerMonth} remain`;
  }
}

/**
 * Seconds until the refused limit frees (the Retry-After header). `freeingCallAt` is the
 * created_at of the call named by `freeingCallRank` (hourly refusals only).
 */
export function retryAfterFor(code: QuotaErrorCode, usage: UsageSnapshot, now: Date, freeingCallAt: Date | null): number {
  switch (code) {
    case 'CONCURRENCY_LIMIT_EXCEEDED':
      return concurrencyRetryAfter(usage.earliestExpiry, now);
    case 'HOURLY_RATE_LIMIT_EXCEEDED':
      return hourlyRetryAfter(freeingCallAt, now);
    case 'DAILY_QUOTA_EXCEEDED':
    case 'DAILY_TOKEN_QUOTA_EXCEEDED':
      return windowRetryAfter(dayWindow(now).end, now);
    case 'MONTHLY_TOKEN_QUOTA_EXCEEDED':
      return windowRetryAfter(monthWindow(now).end, now);
  }
}

function quotaUsage(used: number, limit: number | null, resetAt: Date | null): QuotaUsage {
  return {
    used,
    limit,
    remaining: limit === null ? null : Math.max(0, limit - used),
    resetAt: resetAt ? resetAt.toISOString() : null,
    level: levelOf(used, limit),
  };
}

/**
 * The QuotaStatus of the contracts. `resetAt` is when `used` next falls: the window end for days
 * and months, the oldest counted call + 60 min for the rolling hour, and the earliest reservation
 * expiry for concurrency (an upper bound: a settle frees a slot sooner).
 */
export function buildQuotaStatus(plan: string, limits: ChargedLimits, usage: UsageSnapshot, now: Date): QuotaStatus {
  const quotas = {
    enrichmentsPerDay: quotaUsage(usage.enrichmentsToday, limits.enrichmentsPerDay, dayWindow(now).end),
    concurrentJobs: quotaUsage(usage.inFlight, limits.concurrentJobs, usage.inFlight > 0 ? usage.earliestExpiry : null),
    callsPerHour: quotaUsage(usage.callsInHour, limits.callsPerHour, usage.oldestCallAt ? new Date(usage.oldestCallAt.getTime() + HOUR_MS) : null),
    tokensPerDay: quotaUsage(usage.tokensToday, limits.tokensPerDay, dayWindow(now).end),
    tokensPerMonth: quotaUsage(usage.tokensThisMonth, limits.tokensPerMonth, monthWindow(now).end),
  };
  return { plan, level: worstLevel(Object.values(quotas).map((q) => q.level)), quotas };
}
