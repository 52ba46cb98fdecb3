import { randomUUID } from 'node:crypto';
import { isValidScope } from '@qv/cache-client';
import {
  ValidationError,
  type CacheGetRequest,
  type CacheKeyParts,
  type CacheLookupManyRequest,
  type CacheLookupRequest,
  type CachePurgeBody,
  type CachePutManyRequest,
  type CachePutRequest,
  type CacheStats,
  type CacheTier,
} from '@qv/contracts';
import { withSpan, type Logger } from '@qv/telemetry';
import { hitRatio, NANOS_PER_USD, savedNanos, TIERS, type CacheKeyspace, type EntryAddress } from './domain/cache-keys';
import type { CacheMetrics } from './domain/cache-metrics';
import type { EntryEvents } from './repositories/entry-events';
import type { PgCacheRepository, StoredEntry } from './repositories/pg-cache.repository';
import type { MissCounting, RedisCacheRepository } from './repositories/redis-cache.repository';

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
  /**
   * CACHE_DURABLE_TIERS: the tiers whose entries PostgreSQL keeps a copy of (default the system
   * tier alone, DESIGN.md §6). The others live in Redis only: their fills write no row, and a Redis
   * miss of theirs is final, never looked up in PostgreSQL.
   */
  durableTiers?: readonly CacheTier[];
  /**
   * CACHE_ENTRY_COUNT_MAX_AGE_MS: how old the stats' entry counts may be (default 0: counted at
   * every call). They are a SCAN of every key in Redis for the tiers kept there alone and a count
   * of every live row of `ai_cache` for the durable ones; an operator's console polls the stats
   * every few seconds.
   */
  entryCountMaxAgeMs?: number;
}

/** The tiers PostgreSQL keeps unless told otherwise: the shared system prompts, which must survive Redis. */
export const DEFAULT_DURABLE_TIERS: readonly CacheTier[] = ['system'];

/** A lookup's answer; hits carry the stored JSON as is, so the route need not re-encode it. */
export type LookupResult = { hit: true; raw: string } | { hit: false; lease: { token: string; ttlMs: number } } | { hit: false; lease: null; reason: 'wait_timeout' };

/**
 * The three tiers over Redis (hot copy, counters, leases) and, for the durable tiers (the system
 * tier by default), PostgreSQL (durable copy). A durable entry is written to PostgreSQL first, then
 * Redis, so what Redis serves of it is always also durable and a Redis flush loses none of it: a
 * Redis miss falls back to PostgreSQL and re-warms the entry — until a warm has put every live entry
 * back and marked Redis complete (CacheKeyspace.completeKey). From then on a Redis miss is a miss,
 * with no PostgreSQL look-up behind it; a Redis restart or flush takes the marker with the entries,
 * and the fallback is back until the next warm. The session and content tiers are short-lived
 * per-user answers (DESIGN.md §6): losing them with Redis costs only their recomputation, so by
 * default they are kept in Redis alone, and their fills cost no PostgreSQL statement.
 */
export class CacheService {
  private readonly durable: ReadonlySet<CacheTier>;
  /** The last counts (or the ones on their way), shared by the calls within their age. */
  private entryCounts?: { at: number; counts: Promise<EntryCounts> };

  constructor(private readonly deps: CacheServiceDeps) {
    this.durable = new Set(deps.durableTiers ?? DEFAULT_DURABLE_TIERS);
  }

  /** How a read of this tier counts its miss: a durable tier's is final only when Redis is complete. */
  private missCounting(tier: CacheTier): MissCounting {
    return this.durable.has(tier) ? 'if-complete' : 'always';
  }

  /** Whether a Redis miss of this tier may still be found in PostgreSQL. */
  private mayBeInPostgres(tier: CacheTier, redisComplete: boolean): boolean {
    return !redisComplete && this.durable.has(tier);
  }

  /** The stored entry JSON, or null; counts one hit or one miss. */
  async get(request: CacheGetRequest): Promise<string | null> {
    const address = this.deps.keys.address(request.key);
    const { raw, missCounted } = await this.read(address, request.costPerTokenUsd, this.missCounting(address.tier));
    await this.countGet(address, raw, missCounted);
    return raw;
  }

  /**
   * `get` of several distinct keys at once, answered in their order: Redis in one pipeline, then
   * PostgreSQL in one statement for what Redis missed (unless Redis is complete). Counts one hit or
   * one miss per key.
   */
  async getMany(keys: CacheKeyParts[]): Promise<(string | null)[]> {
    const addresses = this.distinctAddresses(keys, 'keys');
    const reads = await this.readMany(addresses, undefined, true);
    await Promise.all(addresses.map((address, i) => this.countGet(address, reads[i].raw, reads[i].missCounted)));
    return reads.map((read) => read.raw);
  }

  /** A get's outcome in the metrics, and a miss in the tier's counters unless the read counted it (a hit was counted where it was read). */
  private async countGet(address: EntryAddress, raw: string | null, missCounted: boolean): Promise<void> {
    this.deps.metrics.requests.inc({ tier: address.tier, op: 'get', result: raw ? 'hit' : 'miss' });
    if (!raw && !missCounted) await this.deps.redis.countMiss(address.tier);
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
      if (this.durable.has(address.tier)) await this.deps.pg.upsert(address, raw, request.entry.tokens, ttlSeconds);
      await this.deps.redis.set(address.entryKey, raw, ttlSeconds === null ? null : ttlSeconds * 1000);
      if (request.leaseToken) await this.release(address, request.leaseToken, 'completed');
      else await this.deps.redis.announceIfWaiting(address.leaseKey, address.entryKey);
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
    return this.lookupOne(this.deps.keys.address(request.key), this.deadlineOf(request.waitMs), request.costPerTokenUsd);
  }

  /**
   * `lookup` of several distinct keys at once, answered in their order: the first read of every
   * key together (one Redis pipeline, one PostgreSQL statement for the Redis misses), then each
   * missed key contends for its lease as `lookup` does, all of them under the one deadline.
   *
   * The missed keys contend one after another in the order of their entry keys, the same order for
   * every caller: a call waits for a key while holding leases it took, and the holder of that key
   * only ever waits for keys later in the order, so two calls never wait on each other's leases
   * (as they could if each took one of two keys first).
   */
  async lookupMany(request: CacheLookupManyRequest): Promise<LookupResult[]> {
    const addresses = this.distinctAddresses(request.keys, 'keys');
    const deadline = this.deadlineOf(request.waitMs);
    // One key: exactly `lookup` (with no other lease to order against).
    if (addresses.length === 1) return [await this.lookupOne(addresses[0], deadline, request.costPerTokenUsd)];
    const firsts = await this.readMany(addresses, request.costPerTokenUsd);
    const results: LookupResult[] = [];
    const missed: number[] = [];
    firsts.forEach(({ raw: first }, i) => {
      if (first) results[i] = this.lookupHit(addresses[i].tier, first);
      else missed.push(i);
    });
    missed.sort((a, b) => (addresses[a].entryKey < addresses[b].entryKey ? -1 : 1));
    for (const i of missed) results[i] = await this.contend(addresses[i], deadline, request.costPerTokenUsd);
    return results;
  }

  /**
   * `put` of several distinct keys at once, answered in their order: every entry to PostgreSQL
   * (one statement), then to Redis, then each lease completed or each entry announced (one
   * pipeline for both). A session/content put without a TTL stores nothing and gives its
   * lease back, as `put` does.
   */
  async putMany(request: CachePutManyRequest): Promise<boolean[]> {
    const addresses = this.distinctAddresses(request.puts.map((p) => p.key), 'puts');
    const puts = request.puts.map((put, i) => ({ put, address: addresses[i], ttlSeconds: addresses[i].tier === 'system' ? null : (put.ttlSeconds ?? null) }));
    const uncached = puts.filter((p) => p.address.tier !== 'system' && p.ttlSeconds === null);
    const stored = puts.filter((p) => !uncached.includes(p));
    await Promise.all(uncached.map((p) => (p.put.leaseToken ? this.release(p.address, p.put.leaseToken, 'released') : undefined)));
    if (stored.length > 0) {
      await withSpan('Cache.putMany', async () => {
        const rows = stored.map((p) => ({ ...p, raw: JSON.stringify(p.put.entry) }));
        const durable = rows.filter((r) => this.durable.has(r.address.tier));
        if (durable.length > 0) await this.deps.pg.upsertMany(durable.map((r) => ({ ref: r.address, raw: r.raw, tokens: r.put.entry.tokens, ttlSeconds: r.ttlSeconds })));
        const released = await this.deps.redis.storeAndComplete(
          rows.map((r) => ({ entryKey: r.address.entryKey, raw: r.raw, ttlMs: r.ttlSeconds === null ? null : r.ttlSeconds * 1000, leaseKey: r.address.leaseKey, token: r.put.leaseToken })),
        );
        released.forEach((done, i) => {
          if (done) this.deps.metrics.leases.inc({ tier: rows[i].address.tier, event: 'completed' });
        });
      }, { puts: stored.length });
    }
    return puts.map((p) => !uncached.includes(p));
  }

  /**
   * One key's lookup with one Redis round trip before PostgreSQL on a plain miss: the first step
   * reads the entry and, on a miss, takes the lease at once (READ_OR_ACQUIRE); only the caller that
   * took it asks PostgreSQL (the others wait for it, as for any holder), and answers a hit from
   * there, the lease given back, or the lease. While shutting down (no waits, no lease handed out)
   * it is the read then `contend` (a wait_timeout miss), as before.
   */
  private async lookupOne(address: EntryAddress, deadline: number, costPerTokenUsd: number | undefined): Promise<LookupResult> {
    if (this.deps.events.isClosed) {
      const { raw: first } = await this.read(address, costPerTokenUsd);
      return first ? this.lookupHit(address.tier, first) : this.contend(address, deadline, costPerTokenUsd);
    }
    return this.contend(address, deadline, costPerTokenUsd, true);
  }

  /**
   * A missed key's single flight: take the lease, or wait for its holder's result, until `deadline`.
   * Counts exactly one hit or one miss.
   *
   * `unread`: the lookup starts here, PostgreSQL not asked yet (`lookupOne`). Its first step is
   * READ_OR_ACQUIRE, and when one of its steps takes the lease, PostgreSQL is asked before a miss
   * is answered (unless Redis is complete): an entry found there is re-warmed, counted as the hit
   * instead of the miss, and its lease given back and announced (REWARM_HOLDING), so its waiters
   * find it.
   */
  private async contend(address: EntryAddress, deadline: number, costPerTokenUsd: number | undefined, unread = false): Promise<LookupResult> {
    const { redis, events, metrics, leaseMs } = this.deps;
    const tier = address.tier;
    const token = randomUUID();
    let first = unread;
    while (first || !events.isClosed) {
      // Registered before the step, so an announcement between the step and the wait is not lost.
      const waiter = events.register(address.entryKey);
      try {
        const step = first
          ? await redis.readOrAcquire(tier, address.entryKey, address.leaseKey, token, leaseMs, costPerTokenUsd)
          : await redis.acquireOrRead(tier, address.leaseKey, address.entryKey, token, leaseMs, costPerTokenUsd);
        first = false;
        if ('raw' in step) return this.lookupHit(tier, step.raw);
        if ('acquired' in step) {
          if (unread && this.mayBeInPostgres(tier, step.complete)) {
            const raw = await this.fallbackHolding(address, token, costPerTokenUsd);
            if (raw !== null) return this.lookupHit(tier, raw);
          }
          metrics.requests.inc({ tier, op: 'lookup', result: 'miss' });
          metrics.leases.inc({ tier, event: 'granted' });
          return { hit: false, lease: { token, ttlMs: leaseMs } };
        }
        const left = deadline - Date.now();
        if (left <= 0) break;
        // Wake on an announcement, or when the holder's lease would have expired (a crashed holder announces nothing).
        await waiter.wait(Math.min(left, step.pttl > 0 ? step.pttl + 5 : 0));
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

  /**
   * Loads every live entry from PostgreSQL into Redis, each for the time it has left, then marks
   * Redis complete unless Redis was emptied meanwhile (its token gone); answers how many entries.
   * A put racing the warm writes PostgreSQL first and Redis after, so it is in Redis either way; a
   * purge racing it may see a purged entry put back until its TTL (as a fallback's re-warm may).
   */
  async warm(): Promise<number> {
    return withSpan('Cache.warm', async () => {
      const token = randomUUID();
      await this.deps.redis.beginWarm(token);
      let after = '';
      let total = 0;
      for (;;) {
        const page = await this.deps.pg.livePage(after, 500);
        await this.deps.redis.setMany(page.map((row) => ({ entryKey: this.deps.keys.entryKey(row.tier, row.scope, row.hash), raw: row.raw, ttlMs: row.ttlMs })));
        total += page.length;
        if (page.length < 500) break;
        after = page[page.length - 1].id;
      }
      if (!(await this.deps.redis.markComplete(token))) this.deps.logger.warn({ warmed: total }, 'Redis was emptied or warmed again during the warm: not marked complete');
      return total;
    });
  }

  /** `warm` when Redis is not complete (it started empty, or lost its data); null when it was. */
  async warmIfIncomplete(): Promise<number | null> {
    return (await this.deps.redis.isComplete()) ? null : this.warm();
  }

  async stats(): Promise<CacheStats> {
    const [{ durableEntries, redisEntries }, counters] = await Promise.all([this.countEntries(), Promise.all(TIERS.map((tier) => this.deps.redis.counters(tier)))]);
    const tiers = {} as CacheStats['tiers'];
    TIERS.forEach((tier, i) => {
      const c = counters[i];
      tiers[tier] = {
        // A durable tier's entries are PostgreSQL's live rows; the others', the keys Redis holds.
        entries: this.durable.has(tier) ? (durableEntries[tier] ?? 0) : (redisEntries?.[tier] ?? 0),
        hits: c.hits,
        misses: c.misses,
        hitRatio: hitRatio(c.hits, c.misses),
        tokensSaved: c.tokensSaved,
        costSavedUsd: c.costSavedNanos / NANOS_PER_USD,
      };
    });
    return { tiers };
  }

  /** The entries per tier, counted again once the last counts are older than `entryCountMaxAgeMs`; failed counts are not kept. */
  private countEntries(): Promise<EntryCounts> {
    const now = Date.now();
    const last = this.entryCounts;
    if (last && now - last.at < (this.deps.entryCountMaxAgeMs ?? 0)) return last.counts;
    const inRedisAlone = TIERS.some((tier) => !this.durable.has(tier));
    const counts = Promise.all([this.deps.pg.countLive(), inRedisAlone ? this.deps.redis.countEntries() : null]).then(([durableEntries, redisEntries]) => ({ durableEntries, redisEntries }));
    this.entryCounts = { at: now, counts };
    counts.catch(() => {
      if (this.entryCounts?.counts === counts) this.entryCounts = undefined;
    });
    return counts;
  }

  /** Deletes expired ai_cache rows (Redis expires its copies by itself). */
  async cleanup(): Promise<number> {
    const n = await this.deps.pg.deleteExpired();
    this.deps.metrics.cleanedRows.inc(n);
    return n;
  }

  /**
   * Redis first; on a miss of a durable tier, PostgreSQL, re-warming Redis with the time the entry
   * has left. Counts a hit when found; a miss as `countMiss` says (`missCounted`): otherwise the
   * caller decides when a miss is final.
   * PostgreSQL failing here fails open to a miss: the caller recomputes, nothing is served wrong.
   */
  private async read(address: EntryAddress, costPerTokenUsd?: number, countMiss: MissCounting = 'none'): Promise<Read> {
    const first = await this.deps.redis.getCountingHit(address.tier, address.entryKey, costPerTokenUsd, countMiss);
    if (first.raw !== null) return { raw: first.raw, missCounted: false };
    if (!this.mayBeInPostgres(address.tier, first.complete)) return { raw: null, missCounted: first.missCounted };
    const stored = await this.fallback(address);
    if (!stored) return NOT_FOUND;
    return { raw: await this.rewarm(address, stored, costPerTokenUsd), missCounted: false };
  }

  /** The PostgreSQL fallback of a Redis miss: the stored entry, or null; failing open to null. */
  private async fallback(address: EntryAddress): Promise<StoredEntry | null> {
    let stored;
    try {
      stored = await this.deps.pg.find(address);
    } catch (err) {
      this.deps.metrics.postgresFallbacks.inc({ tier: address.tier, result: 'error' });
      this.deps.logger.warn({ err, tier: address.tier }, 'PostgreSQL fallback failed; answering a miss');
      return null;
    }
    this.deps.metrics.postgresFallbacks.inc({ tier: address.tier, result: stored ? 'hit' : 'miss' });
    return stored;
  }

  /**
   * The PostgreSQL fallback of the lookup that holds `token`'s lease, its miss already counted:
   * found → re-warmed with the miss turned into its hit, the lease given back and announced (one
   * round trip), the entry answered; not found or failing → null (the lease stays the caller's).
   */
  private async fallbackHolding(address: EntryAddress, token: string, costPerTokenUsd?: number): Promise<string | null> {
    const stored = await this.fallback(address);
    if (!stored) return null;
    const { tokens, nanos } = savingsOfStored(stored.raw, costPerTokenUsd);
    await this.deps.redis.rewarmHolding(address.tier, address.entryKey, address.leaseKey, token, stored.raw, stored.ttlMs, tokens, nanos);
    return stored.raw;
  }

  /**
   * `read` of several addresses: Redis in one go, then PostgreSQL in one statement for what Redis
   * missed of the durable tiers (unless complete). `countMisses`: each read counts its miss as its
   * tier's `missCounting` says.
   */
  private async readMany(addresses: EntryAddress[], costPerTokenUsd?: number, countMisses = false): Promise<Read[]> {
    const firsts = await this.deps.redis.getManyCountingHit(
      addresses.map((address) => ({ tier: address.tier, entryKey: address.entryKey, countMiss: countMisses ? this.missCounting(address.tier) : 'none' })),
      costPerTokenUsd,
    );
    const reads: Read[] = firsts.map((first) => (first.raw !== null ? { raw: first.raw, missCounted: false } : { raw: null, missCounted: first.missCounted }));
    const missed = addresses.flatMap((address, i) => {
      const first = firsts[i];
      return first.raw === null && this.mayBeInPostgres(address.tier, first.complete) ? [{ address, i }] : [];
    });
    if (missed.length === 0) return reads;
    let stored;
    try {
      stored = await this.deps.pg.findMany(missed.map((m) => m.address));
    } catch (err) {
      for (const m of missed) this.deps.metrics.postgresFallbacks.inc({ tier: m.address.tier, result: 'error' });
      this.deps.logger.warn({ err, keys: missed.length }, 'PostgreSQL fallback failed; answering misses');
      return reads;
    }
    await Promise.all(missed.map(async ({ address, i }, j) => {
      const found = stored[j];
      this.deps.metrics.postgresFallbacks.inc({ tier: address.tier, result: found ? 'hit' : 'miss' });
      if (found) reads[i] = { raw: await this.rewarm(address, found, costPerTokenUsd), missCounted: false };
    }));
    return reads;
  }

  /** Puts an entry PostgreSQL had back into Redis for the time it has left, and counts its hit. */
  private async rewarm(address: EntryAddress, stored: StoredEntry, costPerTokenUsd?: number): Promise<string> {
    await this.deps.redis.set(address.entryKey, stored.raw, stored.ttlMs);
    const { tokens, nanos } = savingsOfStored(stored.raw, costPerTokenUsd);
    await this.deps.redis.countHit(address.tier, tokens, nanos);
    return stored.raw;
  }

  /** The addresses of a many-call's keys; the same key twice is refused (its second lookup would wait on the first's lease). */
  private distinctAddresses(keys: CacheKeyParts[], field: 'keys' | 'puts'): EntryAddress[] {
    const addresses = keys.map((key) => this.deps.keys.address(key));
    const seen = new Set<string>();
    addresses.forEach((address, i) => {
      if (seen.has(address.entryKey)) {
        throw new ValidationError('The same cache key twice in one call', [{ path: field === 'keys' ? ['keys', i] : ['puts', i, 'key'], code: 'custom', message: 'duplicate key' }]);
      }
      seen.add(address.entryKey);
    });
    return addresses;
  }

  private deadlineOf(waitMs: number | undefined): number {
    return Date.now() + Math.min(waitMs ?? this.deps.maxWaitMs, this.deps.maxWaitMs);
  }

  private lookupHit(tier: CacheTier, raw: string): LookupResult & { hit: true } {
    this.deps.metrics.requests.inc({ tier, op: 'lookup', result: 'hit' });
    return { hit: true, raw };
  }

  private async release(address: EntryAddress, token: string, event: 'completed' | 'released'): Promise<boolean> {
    const released = await this.deps.redis.releaseAndAnnounce(address.leaseKey, address.entryKey, token);
    if (released) this.deps.metrics.leases.inc({ tier: address.tier, event });
    return released;
  }
}

/** The entries per tier: the durable tiers' live rows in PostgreSQL, the others' keys in Redis (null: every tier is durable). */
interface EntryCounts {
  durableEntries: Partial<Record<CacheTier, number>>;
  redisEntries: Record<CacheTier, number> | null;
}

/** A read's entry (null: a miss), and whether the read counted that miss already. */
interface Read {
  raw: string | null;
  missCounted: boolean;
}
const NOT_FOUND: Read = { raw: null, missCounted: false };

/** What a hit on an entry PostgreSQL had saves: its tokens, and its cost in nano-dollars. */
function savingsOfStored(raw: string, costPerTokenUsd?: number): { tokens: number; nanos: number } {
  const entry = JSON.parse(raw) as { tokens?: number; costUsd?: number };
  const tokens = entry.tokens ?? 0;
  return { tokens, nanos: savedNanos({ tokens, costUsd: entry.costUsd }, costPerTokenUsd) };
}
