import { LlmError } from '@qv/llm';

export type RetryDecision =
  | { kind: 'retry'; reason: string }
  | { kind: 'give_up'; reason: string }
  | { kind: 'rate_limited'; delayMs: number; reason: string };

/**
 * What a failure means for the job: provider 429 → slow the whole queue (every worker) for the
 * provider's Retry-After, without using an attempt; an open circuit → hold the whole queue until
 * the breaker half-opens, also without using an attempt (a provider outage should wait, not burn
 * every job's attempts into the dead-letter queue in seconds); 5xx, timeouts, network faults and
 * unparsable answers → retry with backoff; other 4xx → give up at once (retrying a bad request
 * only spends money).
 */
export function decideRetry(err: unknown, options: { defaultRateLimitMs?: number; circuitOpenMs?: number } = {}): RetryDecision {
  const defaultRateLimitMs = options.defaultRateLimitMs ?? 1000;
  if (err instanceof LlmError) {
    if (err.kind === 'rate_limited') return { kind: 'rate_limited', delayMs: Math.max(50, err.retryAfterMs ?? defaultRateLimitMs), reason: err.message };
    return err.retryable ? { kind: 'retry', reason: `${err.kind}: ${err.message}` } : { kind: 'give_up', reason: `${err.kind}: ${err.message}` };
  }
  // cockatiel marks its open-circuit errors this way (its own isBrokenCircuitError does the same check).
  if (err instanceof Error && 'isBrokenCircuitError' in err) {
    return { kind: 'rate_limited', delayMs: options.circuitOpenMs ?? 10_000, reason: 'circuit open: the provider is failing' };
  }
  return { kind: 'retry', reason: (err as Error)?.message ?? String(err) };
}
