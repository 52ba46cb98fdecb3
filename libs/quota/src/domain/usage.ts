import type { QuotaErrorCode, QuotaStatus, QuotaUsage } from '@qv/contracts';
import { levelOf, worstLevel } from './levels';
import type { ChargedLimits } from './limits';
import { concurrencyRetryAfter, hourlyRetryAfter, windowRetryAfter } from './retry-after';
import { dayWindow, HOUR_MS, monthWindow } from './windows';

/** What a user has used, as read under the user's charge lock. */
export interface UsageSnapshot {
  /** Reservations with status RESERVED. */
  inFlight: number;
  /** The earliest `expires_at` among them. */
  earliestExpiry: Date | null;
  /** Reservations created in the rolling hour that were not RELEASED. */
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

/** The outcome of the five checks; a refusal names the first failing one. */
export type ChargeDecision =
  | { ok: true }
  | {
      ok: false;
      code: QuotaErrorCode;
      message: string;
      /**
       * Only for HOURLY_RATE_LIMIT_EXCEEDED: which oldest counted call (1 = the oldest) has to
       * leave the rolling hour before one more call fits; null when none can (limit 0).
       */
      freeingCallRank: number | null;
    };

/**
 * The checks of DESIGN.md §3 in their order. Pure: the caller must have read `usage` while holding
 * the user's lock, or the answer is only advisory.
 */
export function decideCharge(limits: ChargedLimits, usage: UsageSnapshot, estimatedTokens: number): ChargeDecision {
  const refuse = (code: QuotaErrorCode, message: string, freeingCallRank: number | null = null): ChargeDecision => ({ ok: false, code, message, freeingCallRank });
  if (limits.concurrentJobs !== null && usage.inFlight >= limits.concurrentJobs) {
    return refuse('CONCURRENCY_LIMIT_EXCEEDED', `All ${limits.concurrentJobs} concurrent job slots are in use`);
  }
  if (limits.callsPerHour !== null && usage.callsInHour >= limits.callsPerHour) {
    const rank = limits.callsPerHour > 0 ? usage.callsInHour - limits.callsPerHour + 1 : null;
    return refuse('HOURLY_RATE_LIMIT_EXCEEDED', `The limit of ${limits.callsPerHour} AI calls per hour is reached`, rank);
  }
  if (limits.enrichmentsPerDay !== null && usage.enrichmentsToday >= limits.enrichmentsPerDay) {
    return refuse('DAILY_QUOTA_EXCEEDED', `The daily quota of ${limits.enrichmentsPerDay} enrichments is used up`);
  }
  if (limits.tokensPerDay !== null && usage.tokensToday + estimatedTokens > limits.tokensPerDay) {
    return refuse(
      'DAILY_TOKEN_QUOTA_EXCEEDED',
      `This request needs up to ${estimatedTokens} tokens; ${Math.max(0, limits.tokensPerDay - usage.tokensToday)} of the daily ${limits.tokensPerDay} remain`,
    );
  }
  if (limits.tokensPerMonth !== null && usage.tokensThisMonth + estimatedTokens > limits.tokensPerMonth) {
    return refuse(
      'MONTHLY_TOKEN_QUOTA_EXCEEDED',
      `This request needs up to ${estimatedTokens} tokens; ${Math.max(0, limits.tokensPerMonth - usage.tokensThisMonth)} of the monthly ${limits.tokensPerMonth} remain`,
    );
  }
  return { ok: true };
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

/** The usage after a successful charge, without reading it back. */
export function usageAfterCharge(usage: UsageSnapshot, estimatedTokens: number, now: Date, expiresAt: Date): UsageSnapshot {
  return {
    inFlight: usage.inFlight + 1,
    earliestExpiry: usage.earliestExpiry && usage.earliestExpiry < expiresAt ? usage.earliestExpiry : expiresAt,
    callsInHour: usage.callsInHour + 1,
    oldestCallAt: usage.oldestCallAt && usage.oldestCallAt < now ? usage.oldestCallAt : now,
    enrichmentsToday: usage.enrichmentsToday + 1,
    tokensToday: usage.tokensToday + estimatedTokens,
    tokensThisMonth: usage.tokensThisMonth + estimatedTokens,
  };
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
