import { LlmError } from '../errors';

/**
 * The per-call deadline as our own abort signal, merged with the caller's. The SDKs' own timeouts
 * stay on as a backstop, but they recognise their abort by the error's class, which fails when
 * the fetch implementation lives in another realm (jest's vm contexts); our signal cannot be
 * mistaken for a connection failure.
 */
export function deadline(timeoutMs: number, callerSignal?: AbortSignal): { signal: AbortSignal; timedOut: () => boolean; clear: () => void } {
  // A timer the caller clears once answered, not AbortSignal.timeout: that one fires for every call,
  // answered or not, building and dispatching an AbortError each time.
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs);
  return {
    signal: callerSignal ? AbortSignal.any([callerSignal, timeout.signal]) : timeout.signal,
    timedOut: () => timeout.signal.aborted,
    clear: () => clearTimeout(timer),
  };
}

/** How much later than our deadline the SDK's own timeout fires. */
export const SDK_TIMEOUT_MARGIN_MS = 1000;

/** The error for a call that ran out of time. */
export function timeoutError(provider: string, timeoutMs: number, cause: unknown): LlmError {
  return new LlmError('timeout', `${provider}: no answer within ${timeoutMs} ms`, { cause });
}
