import { AppError } from '@qv/contracts';
import { LlmError, type CallOutcome } from '@qv/llm';

/** A call refused by the circuit breaker: nothing was sent upstream. */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
  constructor(readonly retryAfterMs: number) {
    super('circuit open: the LLM provider is failing');
  }
}

/**
 * What a call's error says about the provider, as the worker reads it: 5xx, timeouts and network
 * faults are its faults; any other answer shows it up; a 429 and our own errors say nothing.
 */
export function outcomeOf(err: unknown): CallOutcome {
  if (!(err instanceof LlmError)) return 'neutral';
  if (err.kind === 'server' || err.kind === 'timeout' || err.kind === 'network') return 'failure';
  if (err.kind === 'rate_limited') return 'neutral';
  return 'success';
}

/** Attempts of one synchronous call: a caller is waiting, so fewer and shorter than the queue's. */
export const UPSTREAM_ATTEMPTS = 3;
const BASE_BACKOFF_MS = 100;

/**
 * Whether to try again, and after how long (exponential, full jitter): only a retryable fault of
 * the provider (5xx, timeout, network, an unusable answer), never a 4xx (retrying a bad request
 * only spends money), a provider 429 (its Retry-After goes back to the client) or an open circuit.
 */
export function retryDelayMs(err: unknown, attempt: number, random = Math.random): number | null {
  if (attempt >= UPSTREAM_ATTEMPTS) return null;
  if (!(err instanceof LlmError) || !err.retryable || err.kind === 'rate_limited') return null;
  return Math.round(random() * BASE_BACKOFF_MS * 2 ** (attempt - 1));
}

/**
 * The client's view of a failed upstream call. The provider refused the request itself (4xx):
 * 400, its message passed on. Otherwise the provider is unavailable: 503 with when to come back.
 */
export function upstreamFailure(err: unknown): AppError {
  if (err instanceof CircuitOpenError) {
    return new AppError('SERVICE_UNAVAILABLE', 'The LLM provider is failing; calls are paused (nothing was charged)', { retryAfterSeconds: Math.max(1, Math.ceil(err.retryAfterMs / 1000)), cause: err });
  }
  if (err instanceof LlmError && err.kind === 'client') {
    return new AppError('VALIDATION_FAILED', `The LLM provider refused the request: ${err.message}`, { cause: err });
  }
  const retryAfterMs = err instanceof LlmError ? err.retryAfterMs : undefined;
  const what = err instanceof LlmError && err.kind === 'rate_limited' ? 'is rate limiting us' : 'did not answer';
  return new AppError('SERVICE_UNAVAILABLE', `The LLM provider ${what} (nothing was charged)`, { retryAfterSeconds: Math.max(1, Math.ceil((retryAfterMs ?? 1000) / 1000)), cause: err });
}
