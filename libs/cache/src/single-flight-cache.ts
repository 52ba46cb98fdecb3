import { once } from 'node:events';
import type { SingleFlightCache } from '@qv/cache-client';
import type { CacheEntryValue, CacheKeyParts, CacheLookupResponse, CachePutManyItem } from '@qv/contracts';
import { withTimeout } from '@qv/http';
import type { Redis } from 'ioredis';
import type { CacheService, LookupResult } from './cache.service';
import { CacheKeyspace } from './domain/cache-keys';
import { inProcessCacheService, type InProcessCacheDeps } from './read-write-cache';
import { EntryEvents } from './repositories/entry-events';

export interface LocalSingleFlightOptions {
  /** Deadline of every operation but a lookup's wait (CACHE_TIMEOUT_MS): past it the caller goes on without the cache. */
  timeoutMs: number;
  /** The longest a lookup waits for another holder (CACHE_WAIT_MS); a lookup's deadline is this plus `timeoutMs`. */
  maxWaitMs: number;
  /** How long a lease lives when its holder neither puts nor releases it (SINGLE_FLIGHT_LEASE_MS). */
  leaseMs: number;
}

const answer = (result: LookupResult): CacheLookupResponse => (result.hit ? { hit: true, entry: JSON.parse(result.raw) as CacheEntryValue } : result);

/**
 * The single-flight cache run in the calling process (the enrichment worker): cache-service's own
 * code (CacheService) on this process's Redis and PostgreSQL, the same keys, leases, counters and
 * metrics, and a pub/sub subscription of its own so a lookup waits for another process's holder as
 * it would inside cache-service. It answers as cache-service's client does (`SingleFlightCache`),
 * each operation under the client's deadlines, so `singleFlight` and `singleFlightMany` run
 * unchanged over it. Per item this saves two HTTP exchanges, which cost more CPU on both sides
 * than the look-up and the fill (bench/pipeline.bench.ts).
 */
export class LocalSingleFlightCache implements SingleFlightCache {
  private constructor(
    private readonly cache: CacheService,
    private readonly events: EntryEvents,
    private readonly options: LocalSingleFlightOptions,
  ) {}

  /**
   * Subscribes to the entry announcements on `subscriber` (a connection of its own) and answers once
   * subscribed; both connections must be ready within 10 s (their commands are not queued offline).
   */
  static async start(deps: InProcessCacheDeps & { subscriber: Redis }, options: LocalSingleFlightOptions): Promise<LocalSingleFlightCache> {
    await Promise.all([deps.redis, deps.subscriber].map((conn) => (conn.status === 'ready' ? undefined : withTimeout(once(conn, 'ready'), 10_000))));
    const keys = new CacheKeyspace(deps.prefix);
    const events = new EntryEvents(deps.subscriber, keys.eventsChannel);
    await events.start();
    const cache = inProcessCacheService(deps, keys, events, { leaseMs: options.leaseMs, maxWaitMs: options.maxWaitMs });
    return new LocalSingleFlightCache(cache, events, options);
  }

  private waitOf(waitMs: number | undefined): number {
    return waitMs === undefined ? this.options.maxWaitMs : Math.min(Math.max(0, Math.floor(waitMs)), this.options.maxWaitMs);
  }

  async lookup(key: CacheKeyParts, waitMs?: number, options: { costPerTokenUsd?: number } = {}): Promise<CacheLookupResponse> {
    const wait = this.waitOf(waitMs);
    return answer(await withTimeout(this.cache.lookup({ v: 1, key, waitMs: wait, ...options }), this.options.timeoutMs + wait));
  }

  async lookupMany(keys: CacheKeyParts[], waitMs?: number, options: { costPerTokenUsd?: number } = {}): Promise<CacheLookupResponse[]> {
    const wait = this.waitOf(waitMs);
    return (await withTimeout(this.cache.lookupMany({ v: 1, keys, waitMs: wait, ...options }), this.options.timeoutMs + wait)).map(answer);
  }

  async put(key: CacheKeyParts, entry: CacheEntryValue, ttlSeconds: number | null, leaseToken?: string): Promise<{ stored: boolean }> {
    return { stored: await withTimeout(this.cache.put({ v: 1, key, entry, ttlSeconds, ...(leaseToken ? { leaseToken } : {}) }), this.options.timeoutMs) };
  }

  putMany(puts: CachePutManyItem[]): Promise<boolean[]> {
    return withTimeout(this.cache.putMany({ v: 1, puts }), this.options.timeoutMs);
  }

  async releaseLease(key: CacheKeyParts, token: string): Promise<{ released: boolean }> {
    return { released: await withTimeout(this.cache.releaseLease(key, token), this.options.timeoutMs) };
  }

  /** Wakes every waiting lookup (it answers `wait_timeout`) and ends the subscription. */
  close(): Promise<void> {
    return this.events.close();
  }
}
