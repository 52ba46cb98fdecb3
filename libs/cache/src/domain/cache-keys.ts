import type { CacheKeyParts, CacheTier } from '@qv/contracts';
import { cacheKey } from '@qv/cache-client';

export const TIERS: readonly CacheTier[] = ['system', 'session', 'content'];

/** Where one entry lives: its hash (ai_cache.cache_key) and its Redis keys. */
export interface EntryAddress {
  tier: CacheTier;
  scope: string;
  hash: string;
  /** `${prefix}:cache:<tier>:<scope>:<hash>` — the entry. */
  entryKey: string;
  /** `${prefix}:cache-lease:<tier>:<scope>:<hash>` — the single-flight lease; outside the entry namespace so purge patterns never match it. */
  leaseKey: string;
}

/**
 * Redis key layout of the cache. Entries are `${prefix}:cache:<tier>:<scope>:<hash>` so purging a
 * tier or a user is a SCAN on a pattern; scopes are validated by `cacheKey` to hold no `:` or glob
 * characters, so a pattern for one user can never match another's keys.
 */
export class CacheKeyspace {
  constructor(readonly prefix: string) {}

  address(parts: CacheKeyParts): EntryAddress {
    const hash = cacheKey(parts);
    const tail = `${parts.tier}:${parts.scope}:${hash}`;
    return { tier: parts.tier, scope: parts.scope, hash, entryKey: `${this.prefix}:cache:${tail}`, leaseKey: `${this.prefix}:cache-lease:${tail}` };
  }

  entryKey(tier: CacheTier, scope: string, hash: string): string {
    return `${this.prefix}:cache:${tier}:${scope}:${hash}`;
  }

  /** SCAN pattern of a tier's entries, of one scope or all. */
  pattern(tier: CacheTier, scope?: string): string {
    return `${this.prefix}:cache:${tier}:${scope ?? '*'}:*`;
  }

  /** SCAN pattern of every entry, of every tier and scope. */
  get allEntriesPattern(): string {
    return `${this.prefix}:cache:*`;
  }

  /** Hit/miss/savings counters of a tier: one hash shared by every replica. */
  statsKey(tier: CacheTier): string {
    return `${this.prefix}:cache-stats:${tier}`;
  }

  /**
   * Present while Redis holds every live entry PostgreSQL has (set by a warm, gone with a Redis
   * restart or flush): then a Redis miss is a miss, with no PostgreSQL look-up behind it.
   */
  get completeKey(): string {
    return `${this.prefix}:cache-complete`;
  }

  /** The token of the warm under way: a Redis restart during the warm takes it, so that warm cannot mark Redis complete. */
  get warmingKey(): string {
    return `${this.prefix}:cache-complete:warming`;
  }

  /** The pub/sub channel on which puts and lease releases announce an entry key to waiting lookups. */
  get eventsChannel(): string {
    return `${this.prefix}:cache-events`;
  }
}

/** USD are counted as integer nano-dollars in Redis, so sums over many hits stay exact. */
export const NANOS_PER_USD = 1e9;

/** The cost a hit saves: the entry's own cost when it was stored with one, else tokens × the caller's price. */
export function savedNanos(entry: { tokens: number; costUsd?: number }, costPerTokenUsd?: number): number {
  const usd = entry.costUsd ?? (costPerTokenUsd === undefined ? 0 : entry.tokens * costPerTokenUsd);
  return Math.round(usd * NANOS_PER_USD);
}

export function hitRatio(hits: number, misses: number): number {
  const total = hits + misses;
  return total === 0 ? 0 : hits / total;
}
