import { randomUUID } from 'node:crypto';
import { isValidScope } from '@qv/cache-client';
import { ValidationError, type CacheGetRequest, type CacheLookupRequest, type CachePurgeBody, type CachePutRequest, type CacheKeyParts, type CacheStats, type CacheTier } from '@qv/contracts';
import { withSpan, type Logger } from '@qv/telemetry';
import { hitRatio, NANOS_PER_USD, savedNanos, TIERS, type CacheKeyspace, type EntryAddress } from './domain/cache-keys';
import type { CacheMetrics } from './domain/cache-metrics';
import type { EntryEvents } from './repositories/entry-events';
import type { PgCacheRepository } from './repositories/pg-cache.repository';
import type { RedisCacheRepository } from './repositories/redis-cache.repository';

export interface CacheServiceDeps {
  keys: CacheKeyspace;
  redis: RedisCacheRepository;
  pg: PgCacheRepository;
  events: EntryEvents;
  metrics: CacheMetrics;
  logger: Logger;
  /** SINGLE_FLIGHT_LEASE_MS */
  leaseMs: number;
  /** SINGLE_FLIGHT_WAIT_MS: the cap on any lookup's wait. */
  maxWaitMs: number;
}

/** A lookup's answer; hits carry the stored JSON as is, so the route need not re-encode it. */
export type LookupResult = { hit: true; raw: string } | { hit: false; lease: { token: string; ttlMs: number } } | { hit: false; lease: null; reason: 'wait_timeout' };

const ACQUIRED = -10;

/**
 * The three tiers over Redis (hot copy, counters, leases) and PostgreSQL (durable copy).
 * Writes go to PostgreSQL first, then Redis, so what Redis serves is always also durable and a
 * Redis flush loses nothing: a Redis miss falls back to PostgreSQL and re-warms the entry.
 */
export class CacheService {
  constructor(private readonly deps: CacheServiceDeps) {}

  /** The stored entry JSON, or null; counts one hit or one miss. */
  async get(request: CacheGetRequest): Promise<string | null> {
    const address = this.deps.keys.address(request.key);
    const raw = await this.read(address, request.costPerTokenUsd);
    this.deps.metrics.requests.inc({ tier: address.tier, op: 'get', result: raw ? 'hit' : 'miss' });
    if (!raw) await this.deps.redis.countMiss(address.tier);
    return raw;
  }

  /** Stores an entry; false when the tier has no TTL for this user (nothing is cached). */
  async put(request: CachePutRequest): Promise<boolean> {
    const address = this.deps.keys.address(request.key);
    const ttlSeconds = address.tier === 'system' ? null : (request.ttlSeconds ?? null);
    if (address.tier !== 'system' && ttlSeconds === null) {
      if (request.leaseToken) await this.release(address, request.leaseToken, 'released');
      return false;
    }
    return withSpan('Cache.put', async () => {
      const raw = JSON.stringify(request.entry);
      await this.deps.pg.upsert(address, raw, request.entry.tokens, ttlSeconds);
      await this.deps.redis.set(address.entryKey, raw, ttlSeconds === null ? null : ttlSeconds * 1000);
      if (request.leaseToken) await this.release(address, request.leaseToken, 'completed');
      else await this.deps.redis.announce(address.entryKey);
      return true;
    }, { tier: address.tier });
  }

  /**
   * Single flight across processes. A hit is served at once. On a miss the caller gets the lease
   * (Redis SET NX PX) and is the one to compute; when someone else holds it, the lookup waits —
   * woken by the holder's put or release, or when the lease's PTTL runs out (holder crashed) —
   * until the entry appears (hit), the lease frees up (this caller gets it), or the wait ends.
   * Counts exactly one hit or one miss per lookup.
   */
  async lookup(request: CacheLookupRequest): Promise<LookupResult> {
    const { redis, events, metrics, leaseMs } = this.deps;
    const address = this.deps.keys.address(request.key);
    const tier = address.tier;
    const deadline = Date.now() + Math.min(request.waitMs ?? this.deps.maxWaitMs, this.deps.maxWaitMs);

    const first = await this.read(address, request.costPerTokenUsd);
    if (first) return this.lookupHit(tier, first);

    const token = randomUUID();
    while (!events.isClosed) {
      const waiter = events.register(address.entryKey);
      try {
        const pttl = await redis.acquireLease(address.leaseKey, token, leaseMs);
        if (pttl === ACQUIRED) {
          // The previous holder may have stored the entry and freed the lease between our read and
          // this acquire: look once more, or a second computation would start for a cached key.
          const late = await redis.getCountingHit(tier, address.entryKey, request.costPerTokenUsd);
          if (late) {
            await redis.releaseLease(address.leaseKey, token);
            return this.lookupHit(tier, late);
          }
          await redis.countMiss(tier);
          metrics.requests.inc({ tier, op: 'lookup', result: 'miss' });
          metrics.leases.inc({ tier, event: 'granted' });
          return { hit: false, lease: { token, ttlMs: leaseMs } };
        }
        const raw = await redis.getCountingHit(tier, address.entryKey, request.costPerTokenUsd);
        if (raw) return this.lookupHit(tier, raw);
        const left = deadline - Date.now();
        if (left <= 0) break;
        // Wake on an announcement, or when the holder's lease would have expired (a crashed holder announces nothing).
        await waiter.wait(Math.min(left, pttl > 0 ? pttl + 5 : 0));
      } finally {
        waiter.cancel();
      }
    }
    await redis.countMiss(tier);
    metrics.requests.inc({ tier, op: 'lookup', result: 'miss' });
    metrics.leases.inc({ tier, event: 'wait_timeout' });
    return { hit: false, lease: null, reason: 'wait_timeout' };
  }

  /** Abandons a lease (the computation failed): waiters are woken and one of them takes it. */
  async releaseLease(key: CacheKeyParts, token: string): Promise<boolean> {
    return this.release(this.deps.keys.address(key), token, 'released');
  }

  async delete(key: CacheKeyParts): Promise<boolean> {
    const address = this.deps.keys.address(key);
    const fromPg = await this.deps.pg.delete(address);
    const fromRedis = await this.deps.redis.delete(address.entryKey);
    return fromPg || fromRedis;
  }

  /**
   * Removes the entries of a tier, a user, both, or everything, from PostgreSQL first (so a
   * concurrent Redis miss cannot re-warm a purged entry from there), then Redis. Answers the
   * number of distinct entries removed.
   */
  async purge(filter: CachePurgeBody): Promise<number> {
    if (filter.userId !== undefined && !isValidScope(filter.userId)) {
      throw new ValidationError('Invalid purge filter', [{ path: ['userId'], code: 'custom', message: 'not a valid user id' }]);
    }
    return withSpan('Cache.purge', async () => {
      const removed = new Set<string>();
      for (const ref of await this.deps.pg.deleteWhere({ tier: filter.tier, scope: filter.userId })) removed.add(`${ref.tier}:${ref.scope}:${ref.hash}`);
      const entryPrefix = `${this.deps.keys.prefix}:cache:`;
      for (const tier of filter.tier ? [filter.tier] : TIERS) {
        for (const key of await this.deps.redis.deleteMatching(this.deps.keys.pattern(tier, filter.userId))) removed.add(key.slice(entryPrefix.length));
      }
      this.deps.logger.info({ ...filter, purged: removed.size }, 'cache purged');
      return removed.size;
    });
  }

  /** Loads the whole system tier from PostgreSQL into Redis; answers how many entries. */
  async warm(): Promise<number> {
    return withSpan('Cache.warm', async () => {
      let after = '';
      let total = 0;
      for (;;) {
        const page = await this.deps.pg.systemPage(after, 500);
        await this.deps.redis.setMany(page.map((row) => ({ entryKey: this.deps.keys.entryKey(row.tier, row.scope, row.hash), raw: row.raw })));
        total += page.length;
        if (page.length < 500) return total;
        after = page[page.length - 1].id;
      }
    });
  }

  async stats(): Promise<CacheStats> {
    const [entries, ...counters] = await Promise.all([this.deps.pg.countLive(), ...TIERS.map((tier) => this.deps.redis.counters(tier))]);
    const tiers = {} as CacheStats['tiers'];
    TIERS.forEach((tier, i) => {
      const c = counters[i];
      tiers[tier] = {
        entries: entries[tier] ?? 0,
        hits: c.hits,
        misses: c.misses,
        hitRatio: hitRatio(c.hits, c.misses),
        tokensSaved: c.tokensSaved,
        costSavedUsd: c.costSavedNanos / NANOS_PER_USD,
      };
    });
    return { tiers };
  }

  /** Deletes expired ai_cache rows (Redis expires its copies by itself). */
  async cleanup(): Promise<number> {
    const n = await this.deps.pg.deleteExpired();
    this.deps.metrics.cleanedRows.inc(n);
    return n;
  }

  /**
   * Redis first; on a miss, PostgreSQL, re-warming Redis with the time the entry has left. Counts a
   * hit when found, nothing when not (the caller decides when a miss is final).
   * PostgreSQL failing here fails open to a miss: the caller recomputes, nothing is served wrong.
   */
  private async read(address: EntryAddress, costPerTokenUsd?: number): Promise<string | null> {
    const raw = await this.deps.redis.getCountingHit(address.tier, address.entryKey, costPerTokenUsd);
    if (raw) return raw;
    let stored;
    try {
      stored = await this.deps.pg.find(address);
    } catch (err) {
      this.deps.metrics.postgresFallbacks.inc({ tier: address.tier, result: 'error' });
      this.deps.logger.warn({ err, tier: address.tier }, 'PostgreSQL fallback failed; answering a miss');
      return null;
    }
    this.deps.metrics.postgresFallbacks.inc({ tier: address.tier, result: stored ? 'hit' : 'miss' });
    if (!stored) return null;
    await this.deps.redis.set(address.entryKey, stored.raw, stored.ttlMs);
    const entry = JSON.parse(stored.raw) as { tokens?: number; costUsd?: number };
    const tokens = entry.tokens ?? 0;
    await this.deps.redis.countHit(address.tier, tokens, savedNanos({ tokens, costUsd: entry.costUsd }, costPerTokenUsd));
    return stored.raw;
  }

  private async lookupHit(tier: CacheTier, raw: string): Promise<LookupResult> {
    this.deps.metrics.requests.inc({ tier, op: 'lookup', result: 'hit' });
    return { hit: true, raw };
  }

  private async release(address: EntryAddress, token: string, event: 'completed' | 'released'): Promise<boolean> {
    const released = await this.deps.redis.releaseLease(address.leaseKey, token);
    if (released) this.deps.metrics.leases.inc({ tier: address.tier, event });
    await this.deps.redis.announce(address.entryKey);
    return released;
  }
}
