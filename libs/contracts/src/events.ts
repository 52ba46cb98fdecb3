import { z } from 'zod';

export const CacheTier = z.enum(['system', 'session', 'content']);
export type CacheTier = z.infer<typeof CacheTier>;

const base = {
  v: z.literal(1),
  /** Applied exactly once by the ledger. */
  eventId: z.string(),
  userId: z.string(),
  itemId: z.string(),
  reservationId: z.string().nullable(),
  /** The ledger's per-user idempotency key (the job id that did the work). */
  idempotencyKey: z.string(),
  charged: z.boolean(),
  occurredAt: z.string(),
};

export const UsageCompleted = z.object({
  ...base,
  type: z.literal('usage.completed'),
  model: z.string(),
  promptTokens: z.number().int().nonnegative(),
  completionTokens: z.number().int().nonnegative(),
  costUsd: z.number().nonnegative(),
  cache: z.object({
    tier: CacheTier.nullable(),
    hit: z.boolean(),
    tokensSaved: z.number().int().nonnegative(),
    costSavedUsd: z.number().nonnegative(),
  }),
});
export type UsageCompleted = z.infer<typeof UsageCompleted>;

/** What the provider was paid for on the way to an outcome: answers received before a later call failed. */
export const SpentUsage = z.object({
  model: z.string(),
  promptTokens: z.number().int().nonnegative(),
  completionTokens: z.number().int().nonnegative(),
  costUsd: z.number().nonnegative(),
});
export type SpentUsage = z.infer<typeof SpentUsage>;

export const UsageFailed = z.object({
  ...base,
  type: z.literal('usage.failed'),
  reason: z.string(),
  /**
   * Tokens the failed work still cost (tasks answered before another failed for good): the ledger
   * keeps them on the user's budgets while it gives the enrichment back. Absent: nothing was spent.
   */
  spent: SpentUsage.optional(),
});
export type UsageFailed = z.infer<typeof UsageFailed>;

export const UsageEvent = z.discriminatedUnion('type', [UsageCompleted, UsageFailed]);
export type UsageEvent = z.infer<typeof UsageEvent>;
