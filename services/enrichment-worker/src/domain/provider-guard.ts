import { LlmError } from '@qv/llm';
import { circuitBreaker, ConsecutiveBreaker, handleWhen } from 'cockatiel';
import type { Logger } from 'pino';

/**
 * A circuit breaker around provider calls: after `threshold` consecutive provider faults (5xx,
 * timeouts, network) calls fail fast for `halfOpenAfterMs`, so a dead provider costs no waiting
 * and no money; the jobs retry with backoff. Client errors and rate limits do not trip it.
 */
export function createProviderGuard(options: { threshold: number; halfOpenAfterMs: number; logger: Logger }): <T>(call: () => Promise<T>) => Promise<T> {
  const breaker = circuitBreaker(
    handleWhen((err) => err instanceof LlmError && (err.kind === 'server' || err.kind === 'timeout' || err.kind === 'network')),
    { halfOpenAfter: options.halfOpenAfterMs, breaker: new ConsecutiveBreaker(options.threshold) },
  );
  breaker.onBreak(() => options.logger.warn('LLM circuit open: failing fast'));
  breaker.onReset(() => options.logger.info('LLM circuit closed'));
  return (call) => breaker.execute(call);
}
