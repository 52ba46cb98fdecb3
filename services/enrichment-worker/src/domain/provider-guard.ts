import { LlmError } from '@qv/llm';
import { circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen } from 'cockatiel';
import type { Logger } from 'pino';

/**
 * A circuit breaker around provider calls: after `threshold` consecutive provider faults (5xx,
 * timeouts, network) calls fail fast for `halfOpenAfterMs`, so a dead provider costs no waiting
 * and no money; the jobs retry with backoff. Client errors and rate limits do not trip it.
 */
export function createProviderGuard(options: {
  threshold: number;
  halfOpenAfterMs: number;
  logger: Logger;
  /** Told each state change (the llm_circuit_state gauge): closed, half_open or open. */
  onState?: (state: 'closed' | 'half_open' | 'open') => void;
}): <T>(call: () => Promise<T>) => Promise<T> {
  const breaker = circuitBreaker(
    handleWhen((err) => err instanceof LlmError && (err.kind === 'server' || err.kind === 'timeout' || err.kind === 'network')),
    { halfOpenAfter: options.halfOpenAfterMs, breaker: new ConsecutiveBreaker(options.threshold) },
  );
  breaker.onBreak(() => options.logger.warn('LLM circuit open: failing fast'));
  breaker.onReset(() => options.logger.info('LLM circuit closed'));
  breaker.onStateChange((state) => options.onState?.(state === CircuitState.Closed ? 'closed' : state === CircuitState.HalfOpen ? 'half_open' : 'open'));
  return (call) => breaker.execute(call);
}
