import { z } from 'zod';
import { CacheTier } from './events';

/** One entry of the caller's ledger, as `GET /v1/usage` shows it. */
export const UsageEntry = z.object({
  id: z.string(),
  eventId: z.string(),
  itemId: z.string(),
  kind: z.string(),
  model: z.string().nullable(),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  totalTokens: z.number().int(),
  costUsd: z.number(),
  cacheTier: CacheTier.nullable(),
  cacheHit: z.boolean(),
  tokensSaved: z.number().int(),
  costSavedUsd: z.number(),
  /** False for ops replays not charged to the user (DESIGN.md §5). */
  charged: z.boolean(),
  createdAt: z.string(),
});
export type UsageEntry = z.infer<typeof UsageEntry>;

/** The charged totals of a period (today or this month, UTC). */
export const UsageTotals = z.object({ entries: z.number().int(), tokens: z.number().int(), costUsd: z.number(), tokensSaved: z.number().int() });
export type UsageTotals = z.infer<typeof UsageTotals>;

/** What `GET /v1/usage` answers: one page of entries, newest first, and the totals. */
export const UsagePage = z.object({ entries: z.array(UsageEntry), nextCursor: z.string().nullable(), totals: z.object({ today: UsageTotals, month: UsageTotals }) });
export type UsagePage = z.infer<typeof UsagePage>;
