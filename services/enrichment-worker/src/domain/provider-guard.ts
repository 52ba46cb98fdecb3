import { LlmError } from '@qv/llm';
import type { Logger } from 'pino';
import { ProviderBreaker, type BreakerPolicy, type CallOrigin, type CallOutcome, type CircuitState } from './provider-breaker';

export type { BreakerPolicy, CallOrigin, CircuitState } from './provider-breaker';

/** A provider call refused by the circuit breaker: nothing was sent; ask again after `retryAfterMs`. */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
  constructor(
    readonly state: Exclude<CircuitState, 'closed'>,
    readonly retryAfterMs: number,
  ) {
    super(state === 'open' ? 'circuit open: the provider is failing' : 'circuit half-open: a trial call is in flight');
  }
}

/** Wraps one provider call made for `origin` (an item of a user). */
export type ProviderGuard = <T>(origin: CallOrigin, call: () => Promise<T>) => Promise<T>;

/**
 * What a call's error says about the provider: 5xx, timeouts and network faults are its faults;
 * any other answer (a 4xx, an unusable body) shows it up; a 429 is its own signal (the queue rate
 * limit) and our own errors say nothing about it.
 */
export function outcomeOf(err: unknown): CallOutcome {
  if (!(err instanceof LlmError)) return 'neutral';
  if (err.kind === 'server' || err.kind === 'timeout' || err.kind === 'network') return 'failure';
  if (err.kind === 'rate_limited') return 'neutral';
  return 'success';
}

/**
 * The circuit breaker around provider calls (ProviderBreaker: it opens on a fault of the provider
 * seen across items and users, never on one item's failures). A refused call throws
 * `CircuitOpenError`, which the worker turns into a hold of the whole queue for its
 * `retryAfterMs`, using no attempt.
 */
export function createProviderGuard(options: {
  policy: BreakerPolicy;
  logger: Logger;
  /** Told each state change (the llm_circuit_state gauge and llm_circuit_opened_total). */
  onState?: (state: CircuitState) => void;
  now?: () => number;
}): ProviderGuard {
  const breaker = new ProviderBreaker(options.policy, {
    now: options.now,
    onStateChange: ({ from, to, reason }) => {
      if (to === 'open') options.logger.warn({ from, reason }, 'LLM circuit open: holding the queue');
      else options.logger.info({ from, reason }, to === 'closed' ? 'LLM circuit closed' : 'LLM circuit half-open');
      options.onState?.(to);
    },
  });
  return async (origin, call) => {
    const admission = breaker.admit(origin);
    if (!admission.allowed) throw new CircuitOpenError(admission.state, admission.retryAfterMs);
    let outcome: CallOutcome = 'neutral';
    try {
      const result = await call();
      outcome = 'success';
      return result;
    } catch (err) {
      outcome = outcomeOf(err);
      throw err;
    } finally {
      breaker.record(admission.ticket, outcome);
    }
  };
}
