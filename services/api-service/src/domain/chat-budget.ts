import { QuotaExceededError, type QuotaStatus, type QuotaUsage } from '@qv/contracts';

/** What a call may spend on its answer, decided before the charge. */
export interface CompletionCap {
  /** The `max_tokens` sent upstream and charged as the completion part of the estimate. */
  maxTokens: number;
  /** True when the budget left cut what the client asked for (or the default). */
  clamped: boolean;
}

/** The answer cap when the client names none: a generous answer, still bounded. */
export const DEFAULT_COMPLETION_CAP = 4096;

const secondsUntil = (resetAt: string | null, now: number) => (resetAt ? Math.max(1, Math.ceil((Date.parse(resetAt) - now) / 1000)) : 60);

/**
 * The completion cap that keeps the call inside both token budgets (day and month) after its
 * prompt: min(asked, day left − prompt, month left − prompt). The charge then reserves prompt +
 * cap, so an answer can never overrun a budget, even mid-stream. Nothing left for even one token
 * of answer: the refusal the charge would give (DAILY_ / MONTHLY_TOKEN_QUOTA_EXCEEDED), day first
 * as the charge checks it.
 */
export function capCompletion(status: QuotaStatus, promptTokens: number, requested: number | undefined, now = Date.now()): CompletionCap {
  const asked = requested ?? DEFAULT_COMPLETION_CAP;
  let maxTokens = asked;
  const budgets: [QuotaUsage, 'DAILY_TOKEN_QUOTA_EXCEEDED' | 'MONTHLY_TOKEN_QUOTA_EXCEEDED', string][] = [
    [status.quotas.tokensPerDay, 'DAILY_TOKEN_QUOTA_EXCEEDED', 'Daily token quota'],
    [status.quotas.tokensPerMonth, 'MONTHLY_TOKEN_QUOTA_EXCEEDED', 'Monthly token quota'],
  ];
  for (const [usage, code, name] of budgets) {
    if (usage.remaining === null) continue;
    const left = usage.remaining - promptTokens;
    if (left < 1) {
      throw new QuotaExceededError(code, `${name} exceeded: ${usage.remaining} tokens left, the prompt alone needs ${promptTokens}`, secondsUntil(usage.resetAt, now), status);
    }
    maxTokens = Math.min(maxTokens, left);
  }
  return { maxTokens, clamped: maxTokens < asked };
}
