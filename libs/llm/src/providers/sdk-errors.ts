import { LlmError, llmErrorFromStatus, type HeaderSource } from '../errors';

/**
 * The error shapes both official SDKs share (`openai` and `@anthropic-ai/sdk` are generated from
 * the same template): an `APIError` with `status` and `headers`, and subclasses named
 * `APIConnectionTimeoutError`, `APIUserAbortError`, `APIConnectionError`.
 */
interface SdkErrorClasses {
  APIError: abstract new (...args: never[]) => Error;
  APIConnectionError: abstract new (...args: never[]) => Error;
  APIConnectionTimeoutError: abstract new (...args: never[]) => Error;
  APIUserAbortError: abstract new (...args: never[]) => Error;
}

/** Maps whatever an SDK call threw to an `LlmError` (an `LlmError` passes through unchanged). */
export function mapSdkError(err: unknown, sdk: SdkErrorClasses, provider: string): LlmError {
  if (err instanceof LlmError) return err;
  if (err instanceof sdk.APIConnectionTimeoutError) return new LlmError('timeout', `${provider}: request timed out`, { cause: err });
  if (err instanceof sdk.APIUserAbortError) return new LlmError('timeout', `${provider}: request aborted`, { cause: err });
  if (err instanceof sdk.APIConnectionError) return new LlmError('network', `${provider}: connection failed: ${err.message}`, { cause: err });
  if (err instanceof sdk.APIError) {
    const { status, headers } = err as unknown as { status?: number; headers?: HeaderSource };
    if (typeof status === 'number') return llmErrorFromStatus(status, headers, `${provider}: ${err.message}`, err);
  }
  if (err instanceof SyntaxError) return new LlmError('invalid_response', `${provider}: unreadable response: ${err.message}`, { cause: err });
  // Something the SDK did not classify (a fetch-level failure, a bug): worth another attempt, and
  // the queue's attempt limit bounds the cost.
  return new LlmError('network', `${provider}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
