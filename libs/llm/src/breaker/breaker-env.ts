import { positiveInt } from '@qv/config';
import { z } from 'zod';
import type { BreakerPolicy } from './provider-breaker';

/**
 * The provider breaker's variables, to spread into the config schema of every service that calls
 * the provider (the worker's items and api-service's chat path guard the same provider alike).
 * The circuit opens on a fault of the provider, never of one item (provider-breaker.ts).
 */
export const breakerEnv = {
  BREAKER_THRESHOLD: positiveInt(5).describe('the circuit may open only with this many failed LLM calls (5xx, timeouts, network) in `BREAKER_WINDOW_MS`'),
  BREAKER_MIN_ITEMS: positiveInt(3).describe('…and only with this many of the last `BREAKER_WINDOW_ITEMS` items called failing'),
  BREAKER_MIN_USERS: positiveInt(2).describe('…of this many distinct users (a single-tenant deployment sets `BREAKER_MIN_USERS=1`)'),
  BREAKER_FAILURE_RATIO: z.coerce.number().gt(0).max(1).default(0.5).describe('…and this share of those items failing'),
  // The size trades false opens against an outage's cost: with one item in six failing on its own
  // input, 10 items open a worker's circuit about 3 times per 1,000 items (for one spell: the trial
  // succeeds), 20 items about once per 20,000; but an outage right after a healthy spell must then
  // fail 10 distinct items before it opens, and a handful of items burn all their attempts first.
  BREAKER_WINDOW_ITEMS: positiveInt(10).describe('the items called last, each by its first attempt and latest outcome, that `BREAKER_MIN_ITEMS`, `BREAKER_MIN_USERS` and `BREAKER_FAILURE_RATIO` count in'),
  BREAKER_WINDOW_MS: positiveInt(20_000).describe('the window of `BREAKER_THRESHOLD`, and the oldest first call an item in `BREAKER_WINDOW_ITEMS` may have'),
  BREAKER_HALF_OPEN_MS: positiveInt(10_000).describe('how long the open circuit refuses calls (the worker: holds the queue) before a trial call'),
};

export type BreakerEnv = z.infer<z.ZodObject<typeof breakerEnv>>;

/** The policy from the parsed variables; a trial call no longer blocks the next past the LLM timeout and a margin. */
export function breakerPolicy(env: BreakerEnv, llmTimeoutMs: number): BreakerPolicy {
  return {
    windowMs: env.BREAKER_WINDOW_MS,
    windowItems: env.BREAKER_WINDOW_ITEMS,
    minFailures: env.BREAKER_THRESHOLD,
    minItems: env.BREAKER_MIN_ITEMS,
    minUsers: env.BREAKER_MIN_USERS,
    failureRatio: env.BREAKER_FAILURE_RATIO,
    halfOpenAfterMs: env.BREAKER_HALF_OPEN_MS,
    probeWaitMs: Math.min(500, env.BREAKER_HALF_OPEN_MS),
    probeLeaseMs: llmTimeoutMs + 5000,
  };
}
