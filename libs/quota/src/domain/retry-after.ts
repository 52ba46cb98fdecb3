import { HOUR_MS } from './windows';

/**
 * Seconds a client is told to wait when every concurrency slot is taken. A slot frees when a job
 * settles or is released, which on this system takes seconds (an LLM call), and at the latest when
 * the sweeper expires the oldest reservation; nothing in the database predicts the former, so a
 * short constant, capped by the earliest expiry, is the honest answer.
 */
export const CONCURRENCY_RETRY_AFTER_SECONDS = 2;

/** Whole seconds from `now` until `at`, rounded up, at least 1 (a Retry-After of 0 invites a hot loop). */
export function secondsUntil(at: Date, now: Date): number {
  return Math.max(1, Math.ceil((at.getTime() - now.getTime()) / 1000));
}

/** Concurrency: the constant above, or sooner if a reservation expires sooner. */
export function concurrencyRetryAfter(earliestExpiry: Date | null, now: Date): number {
  if (!earliestExpiry) return CONCURRENCY_RETRY_AFTER_SECONDS;
  return Math.min(CONCURRENCY_RETRY_AFTER_SECONDS, secondsUntil(earliestExpiry, now));
}

/**
 * Rolling hour: the limit frees when the call that must leave the window does, i.e. at its
 * `created_at` + 60 min. `freeingCallAt` is the (used − limit + 1)-th oldest counted call (the
 * oldest, unless an admin lowered the limit below current use); null when no call can free it
 * (a limit of 0), then a whole hour.
 */
export function hourlyRetryAfter(freeingCallAt: Date | null, now: Date): number {
  if (!freeingCallAt) return HOUR_MS / 1000;
  return secondsUntil(new Date(freeingCallAt.getTime() + HOUR_MS), now);
}

/** Daily and monthly quotas free when their UTC window ends. */
export function windowRetryAfter(windowEnd: Date, now: Date): number {
  return secondsUntil(windowEnd, now);
}
