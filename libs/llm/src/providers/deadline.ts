import { LlmError } from '../errors';

/**
 * The per-call deadline as our own abort signal, merged with the caller's. The SDKs' own timeouts
 * stay on as a backstop, but they recognise their abort by the error's class, which fails when
 * the fetch implementation lives in another realm (jest's vm contexts); our signal cannot be
 * mistaken for a connection failure.
 */
export function deadline(timeoutMs: number, callerSignal?: AbortSignal): { signal: AbortSignal; timedOut: () => boolean } {
  const timeout = AbortSignal.timeout(timeoutMs);
  return { signal: callerSignal ? AbortSignal.any([callerSignal, timeout]) : timeout, timedOut: () => timeout.aborted };
}

/** How much later than our deadline the SDK's own timeout fires. */
export const SDK_TIMEOUT_MARGIN_MS = 1000;

/** The error for a call that ran out of time. */
export function timeoutError(provider: string, timeoutMs: number, cause: unknown): LlmError {
  return new LlmError('timeout', `${provider}: no answer within ${timeoutMs} ms`, { cause });
}
