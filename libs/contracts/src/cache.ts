import { z } from 'zod';
import { idString, int32, safeString } from './bounds';
import { CacheTier } from './events';

/** An item's content (100,000 characters) plus the task's framing, with room to spare. */
export const MAX_CACHE_INPUT_CHARS = 250_000;

/** What identifies a cache entry; the key is a hash of all of it (DESIGN.md §6). */
export const CacheKeyParts = z.object({
  tier: CacheTier,
  /** A user id, or `global` for the system tier. */
  scope: idString(),
  task: safeString().min(1).max(64),
  model: safeString().min(1).max(200),
  promptVersion: safeString().min(1).max(64),
  input: safeString().max(MAX_CACHE_INPUT_CHARS),
});
export type CacheKeyParts = z.infer<typeof CacheKeyParts>;

export const CacheEntryValue = z.object({
  value: z.unknown(),
  /** Tokens the entry cost to make: what a hit saves. */
  tokens: int32(),
  model: safeString().max(200),
  /**
   * What making the entry cost in USD (from the caller's pricing table). Added to `costSavedUsd`
   * on every hit; when absent, a get/lookup may carry `costPerTokenUsd` instead.
   */
  costUsd: z.number().nonnegative().max(1e9).optional(),
});
export type CacheEntryValue = z.infer<typeof CacheEntryValue>;

export const CacheGetRequest = z.object({
  v: z.literal(1),
  key: CacheKeyParts,
  /** Prices a hit on an entry stored without `costUsd`: saved cost = entry tokens × this. */
  costPerTokenUsd: z.number().nonnegative().max(1e3).optional(),
});
export type CacheGetRequest = z.infer<typeof CacheGetRequest>;
export const CachePutRequest = z.object({
  v: z.literal(1),
  key: CacheKeyParts,
  entry: CacheEntryValue,
  /** The plan's TTL for session/content; null or absent there = do not cache. Ignored by the permanent system tier. */
  ttlSeconds: int32().positive().nullish(),
  /** The single-flight lease this put completes: released, and its waiters woken. */
  leaseToken: safeString().min(1).max(200).optional(),
});
export type CachePutRequest = z.infer<typeof CachePutRequest>;
export const CachePutResponse = z.object({ stored: z.boolean() });
export const CacheGetResponse = z.object({ hit: z.boolean(), entry: CacheEntryValue.nullable() });
export type CacheGetResponse = z.infer<typeof CacheGetResponse>;

export const CacheDeleteRequest = z.object({ v: z.literal(1), key: CacheKeyParts });
export const CacheDeleteResponse = z.object({ deleted: z.boolean() });

/** Single flight: a hit, or a miss with the lease to compute it, or a miss after waiting for another holder in vain. */
export const CacheLookupRequest = z.object({
  v: z.literal(1),
  key: CacheKeyParts,
  /** How long to wait for another holder's result; capped by the service's SINGLE_FLIGHT_WAIT_MS. */
  waitMs: int32().optional(),
  costPerTokenUsd: z.number().nonnegative().max(1e3).optional(),
});
export type CacheLookupRequest = z.infer<typeof CacheLookupRequest>;
export const CacheLookupResponse = z.union([
  z.object({ hit: z.literal(true), entry: CacheEntryValue }),
  z.object({ hit: z.literal(false), lease: z.object({ token: z.string(), ttlMs: z.number().int().positive() }) }),
  z.object({ hit: z.literal(false), lease: z.null(), reason: z.literal('wait_timeout') }),
]);
export type CacheLookupResponse = z.infer<typeof CacheLookupResponse>;

/** The most keys one lookup-many or put-many carries: an item's tasks, with room to spare. */
export const MAX_CACHE_KEYS_PER_CALL = 16;

/**
 * Single flight for several distinct keys in one call (an item's tasks): each key answered as
 * `lookup` would answer it, in the order asked. One `waitMs` bounds the whole call.
 */
export const CacheLookupManyRequest = z.object({
  v: z.literal(1),
  keys: z.array(CacheKeyParts).min(1).max(MAX_CACHE_KEYS_PER_CALL),
  waitMs: int32().optional(),
  costPerTokenUsd: z.number().nonnegative().max(1e3).optional(),
});
export type CacheLookupManyRequest = z.infer<typeof CacheLookupManyRequest>;
export const CacheLookupManyResponse = z.object({ results: z.array(CacheLookupResponse) });
export type CacheLookupManyResponse = z.infer<typeof CacheLookupManyResponse>;

/** One put of a put-many: the fields of `CachePutRequest` but its version. */
export const CachePutManyItem = CachePutRequest.omit({ v: true });
export type CachePutManyItem = z.infer<typeof CachePutManyItem>;
/** Several puts of distinct keys in one call, each stored as `put` would; `stored` in the same order. */
export const CachePutManyRequest = z.object({
  v: z.literal(1),
  puts: z.array(CachePutManyItem).min(1).max(MAX_CACHE_KEYS_PER_CALL),
});
export type CachePutManyRequest = z.infer<typeof CachePutManyRequest>;
export const CachePutManyResponse = z.object({ stored: z.array(z.boolean()) });
export type CachePutManyResponse = z.infer<typeof CachePutManyResponse>;

export const CacheLeaseReleaseRequest = z.object({ v: z.literal(1).default(1), key: CacheKeyParts, token: safeString().min(1).max(200) });
export const CacheLeaseReleaseResponse = z.object({ released: z.boolean() });

export const CachePurgeResponse = z.object({ purged: z.number().int().nonnegative() });
export type CachePurgeResponse = z.infer<typeof CachePurgeResponse>;
export const CacheWarmResponse = z.object({ warmed: z.number().int().nonnegative() });

export const CachePurgeBody = z
  .object({ tier: CacheTier.optional(), userId: idString().optional() })
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
