import type { CacheEntryValue, CacheGetResponse, CacheKeyParts } from '@qv/contracts';
import type { CacheService } from '@qv/cache';
import { withTimeout } from '@qv/http';

/** The two cache operations the chat path makes: a read of the call's key and a fill after the answer. */
export interface ChatCache {
  get(key: CacheKeyParts): Promise<CacheGetResponse>;
  put(key: CacheKeyParts, entry: CacheEntryValue, ttlSeconds: number | null): Promise<{ stored: boolean }>;
}

/**
 * The chat path's cache, run in this process (libs/cache, the code cache-service serves) on this
 * replica's Redis and PostgreSQL: the same entries, keys, counters and metrics as through
 * cache-service, without a hop of its own per read and per fill (bench/gateway.bench.ts: the hop
 * cost more CPU than the look-up). Each operation has the deadline cache-service's had
 * (`CACHE_TIMEOUT_MS`): the cache only saves money, a slow one must not hold the answer.
 */
export class InProcessChatCache implements ChatCache {
  constructor(
    private readonly cache: CacheService,
    private readonly timeoutMs: number,
  ) {}

  async get(key: CacheKeyParts): Promise<CacheGetResponse> {
    const raw = await withTimeout(this.cache.get({ v: 1, key }), this.timeoutMs);
    return raw === null ? { hit: false, entry: null } : { hit: true, entry: JSON.parse(raw) as CacheEntryValue };
  }

  async put(key: CacheKeyParts, entry: CacheEntryValue, ttlSeconds: number | null): Promise<{ stored: boolean }> {
    return { stored: await withTimeout(this.cache.put({ v: 1, key, entry, ttlSeconds }), this.timeoutMs) };
  }
}
