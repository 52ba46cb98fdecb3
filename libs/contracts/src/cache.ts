import { z } from 'zod';
import { CacheTier } from './events';

/** What identifies a cache entry; the key is a hash of all of it (DESIGN.md §6). */
export const CacheKeyParts = z.object({
  tier: CacheTier,
  /** A user id, or `global` for the system tier. */
  scope: z.string().min(1),
  task: z.string().min(1),
  model: z.string().min(1),
  promptVersion: z.string().min(1),
  input: z.string(),
});
export type CacheKeyParts = z.infer<typeof CacheKeyParts>;

export const CacheEntryValue = z.object({
  value: z.unknown(),
  /** Tokens the entry cost to make: what a hit saves. */
  tokens: z.number().int().nonnegative(),
  model: z.string(),
});
export type CacheEntryValue = z.infer<typeof CacheEntryValue>;

export const CacheGetRequest = z.object({ v: z.literal(1), key: CacheKeyParts });
export const CachePutRequest = z.object({
  v: z.literal(1),
  key: CacheKeyParts,
  entry: CacheEntryValue,
  ttlSeconds: z.number().int().positive().nullable(),
});
export const CacheGetResponse = z.object({ hit: z.boolean(), entry: CacheEntryValue.nullable() });

export const CachePurgeBody = z
  .object({ tier: CacheTier.optional(), userId: z.string().optional() })
  .strict();
export type CachePurgeBody = z.infer<typeof CachePurgeBody>;

export const CacheTierStats = z.object({
  entries: z.number().int(),
  hits: z.number().int(),
  misses: z.number().int(),
  hitRatio: z.number(),
  tokensSaved: z.number().int(),
  costSavedUsd: z.number(),
});
export const CacheStats = z.object({ tiers: z.record(CacheTier, CacheTierStats) });
export type CacheStats = z.infer<typeof CacheStats>;
