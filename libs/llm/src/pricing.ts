/** USD per million tokens, input (prompt) and output (completion). */
export interface ModelPrice {
  inputPerMTokUsd: number;
  outputPerMTokUsd: number;
}

/**
 * List prices of the models this system is configured with. `sim-1` (the simulator) is priced like
 * gpt-4o-mini so that cost figures in dev and benchmarks are realistic rather than zero.
 */
export const PRICING: Record<string, ModelPrice> = {
  'sim-1': { inputPerMTokUsd: 0.15, outputPerMTokUsd: 0.6 },
  'gpt-4o-mini': { inputPerMTokUsd: 0.15, outputPerMTokUsd: 0.6 },
  'gpt-4o': { inputPerMTokUsd: 2.5, outputPerMTokUsd: 10 },
  'gpt-4.1-nano': { inputPerMTokUsd: 0.1, outputPerMTokUsd: 0.4 },
  'gpt-4.1-mini': { inputPerMTokUsd: 0.4, outputPerMTokUsd: 1.6 },
  'gpt-4.1': { inputPerMTokUsd: 2, outputPerMTokUsd: 8 },
  'claude-3-haiku': { inputPerMTokUsd: 0.25, outputPerMTokUsd: 1.25 },
  'claude-3-5-haiku': { inputPerMTokUsd: 0.8, outputPerMTokUsd: 4 },
  'claude-3-5-sonnet': { inputPerMTokUsd: 3, outputPerMTokUsd: 15 },
  'claude-3-7-sonnet': { inputPerMTokUsd: 3, outputPerMTokUsd: 15 },
  'claude-sonnet-4': { inputPerMTokUsd: 3, outputPerMTokUsd: 15 },
};

/**
 * The price of a model not in `PRICING` (a local vLLM/Ollama model, a new release): $1 in / $4 out
 * per million tokens, a mid-range figure so that an unknown model is neither free nor alarming.
 */
export const DEFAULT_PRICE: ModelPrice = { inputPerMTokUsd: 1, outputPerMTokUsd: 4 };

/**
 * The price of `model`: an exact entry, else the longest entry the name starts with (so dated or
 * aliased names such as `gpt-4o-mini-2024-07-18` or `claude-3-5-haiku-latest` find their family),
 * else `DEFAULT_PRICE`.
 */
export function priceOf(model: string): ModelPrice {
  const exact = PRICING[model];
  if (exact) return exact;
  let best: string | undefined;
  for (const name of Object.keys(PRICING)) {
    if (model.startsWith(`${name}-`) && (best === undefined || name.length > best.length)) best = name;
  }
  return best ? PRICING[best] : DEFAULT_PRICE;
}

/** Cost in USD of one call; a negative or non-finite count counts as 0, so the result is never NaN. */
export function costUsd(model: string, promptTokens: number, completionTokens: number): number {
  const price = priceOf(model);
  const safe = (n: number) => (Number.isFinite(n) && n > 0 ? n : 0);
  return (safe(promptTokens) * price.inputPerMTokUsd + safe(completionTokens) * price.outputPerMTokUsd) / 1_000_000;
}
