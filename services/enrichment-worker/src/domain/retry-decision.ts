import { LlmError } from '@qv/llm';
import { CircuitOpenError } from './provider-guard';

export type RetryDecision =
  | { kind: 'retry'; reason: string }
  | { kind: 'give_up'; reason: string }
  | { kind: 'rate_limited'; delayMs: number; reason: string }
  | { kind: 'circuit_open'; delayMs: number; reason: string };

/**
 * What a failure means for the job: provider 429 → slow the whole queue (every worker) for the
 * provider's Retry-After, without using an attempt; a call refused by the circuit breaker → hold
 * the whole queue until the breaker lets a call through again, also without using an attempt (a
 * provider outage should wait, not burn every job's attempts into the dead-letter queue in
 * seconds); 5xx, timeouts, network faults and unparsable answers → retry with backoff; other 4xx →
 * give up at once (retrying a bad request only spends money).
 */
export function decideRetry(err: unknown, options: { defaultRateLimitMs?: number } = {}): RetryDecision {
  const defaultRateLimitMs = options.defaultRateLimitMs ?? 1000;
  if (err instanceof LlmError) {
    if (err.kind === 'rate_limited') return { kind: 'rate_limited', delayMs: Math.max(50, err.retryAfterMs ?? defaultRateLimitMs), reason: err.message };
    return err.retryable ? { kind: 'retry', reason: `${err.kind}: ${err.message}` } : { kind: 'give_up', reason: `${err.kind}: ${err.message}` };
  }
  if (err instanceof CircuitOpenError) return { kind: 'circuit_open', delayMs: Math.max(50, err.retryAfterMs), reason: err.message };
  return { kind: 'retry', reason: (err as Error)?.message ?? String(err) };
}
