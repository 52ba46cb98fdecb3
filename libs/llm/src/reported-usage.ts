import { INT32_MAX } from '@qv/contracts';

/**
 * A token count as a provider reported it, if it is one: an integer from 0 to what a reservation's
 * column holds. Anything else (negative, a fraction, past 2^31, a string, NaN) is no count at all,
 * so that a provider's bug, or a peer in the middle, cannot settle a call below zero (a refund
 * the user never earned) or past the column (a statement that fails on every retry).
 */
export function reportedTokens(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= INT32_MAX ? value : undefined;
}

/** A provider's usage as counts, only when both are counts (`reportedTokens`); else none. */
export function reportedUsage(prompt: unknown, completion: unknown): { promptTokens: number; completionTokens: number } | undefined {
  const promptTokens = reportedTokens(prompt);
  const completionTokens = reportedTokens(completion);
  return promptTokens === undefined || completionTokens === undefined ? undefined : { promptTokens, completionTokens };
}
