import { LlmError } from '@qv/llm';

export type RetryDecision =
  | { kind: 'retry'; reason: string }
  | { kind: 'give_up'; reason: string }
  | { kind: 'rate_limited'; delayMs: number; reason: string };

/**
 * What a failure means for the job: provider 429 → slow the whole queue (every worker) for the
 * provider's Retry-After, without using an attempt; 5xx, timeouts, network faults, unparsable
 * answers and an open circuit → retry with backoff; other 4xx → give up at once (retrying a bad
 * request only spends money).
 */
export function decideRetry(err: unknown, defaultRateLimitMs = 1000): RetryDecision {
  if (err instanceof LlmError) {
    if (err.kind === 'rate_limited') return { kind: 'rate_limited', delayMs: Math.max(50, err.retryAfterMs ?? defaultRateLimitMs), reason: err.message };
    return err.retryable ? { kind: 'retry', reason: `${err.kind}: ${err.message}` } : { kind: 'give_up', reason: `${err.kind}: ${err.message}` };
  }
  const name = (err as Error)?.name;
  if (name === 'BrokenCircuitError' || name === 'IsolatedCircuitError') return { kind: 'retry', reason: 'circuit open: the provider is failing' };
  return { kind: 'retry', reason: (err as Error)?.message ?? String(err) };
}
