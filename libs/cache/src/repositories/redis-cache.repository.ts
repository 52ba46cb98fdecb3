import type { CacheTier } from '@qv/contracts';
import { isCluster, mastersOf } from '@qv/queue';
import type { Redis } from 'ioredis';
import { savedNanos, type CacheKeyspace } from '../domain/cache-keys';

/**
 * Lua that counts a hit on the entry JSON in `v` and what it saved, into the stats hash `statsKey`
 * with the cost per token in `costArg` ('' when none: used only for entries stored without costUsd).
 */
const countHitOfV = (statsKey: string, costArg: string) => `
local tokens = 0
local nanos = 0
local ok, e = pcall(cjson.decode, v)
if ok and type(e) == 'table' then
  tokens = tonumber(e['tokens']) or 0
  local cost = tonumber(e['costUsd'])
  if cost == nil and ${costArg} ~= '' then cost = tokens * tonumber(${costArg}) end
  if cost ~= nil then nanos = math.floor(cost * 1e9 + 0.5) end
end
redis.call('HINCRBY', ${statsKey}, 'hits', 1)
if tokens > 0 then redis.call('HINCRBY', ${statsKey}, 'tokensSaved', tokens) end
if nanos > 0 then redis.call('HINCRBY', ${statsKey}, 'costSavedNanos', nanos) end
`;

/**
 * GET an entry and, when present, count the hit and what it saved, in one round trip.
 * KEYS: entry, stats hash, complete marker. ARGV: cost per token in USD, or ''; which miss to
 * count (MissCounting: '' none, 'c' one when Redis is complete, 'a' any). On a miss, answers whether
 * Redis is complete (1 or 0). Counting a final miss here saves the caller a command of its own.
 */
const GET_COUNTING_HIT = `
local v = redis.call('GET', KEYS[1])
if not v then
  local complete = redis.call('EXISTS', KEYS[3])
  if ARGV[2] == 'a' or (complete == 1 and ARGV[2] == 'c') then redis.call('HINCRBY', KEYS[2], 'misses', 1) end
  return complete
end
${countHitOfV('KEYS[2]', 'ARGV[1]')}
return v
`;

/**
 * Lua that marks, in `waitKey`, that a lookup is about to wait on the lease in `leaseKey`, for as
 * long as the lease has left (and a second more), then answers that PTTL. Whatever ends or fills
 * the entry announces it only while the mark is there (and takes it away): every subscribed process
 * (cache-service, each worker) handles every announcement, so announcing each fill cost every
 * process a message per item, for the rare fill someone waited for.
 */
const markWaitingAndReturnPttl = (leaseKey: string, waitKey: string) => `
local pttl = redis.call('PTTL', ${leaseKey})
if pttl > 0 then redis.call('SET', ${waitKey}, '1', 'PX', pttl + 1000) end
return pttl
`;

/**
 * Lua that announces the entry (ARGV channel, message) and takes the mark away, if a lookup marked
 * that it waits on the entry's lease (`waitKey`); sets `announced` to 1 when it did.
 */
const announceIfWaited = (waitKey: string, channelArg: string, messageArg: string) => `
local announced = 0
if redis.call('DEL', ${waitKey}) == 1 then redis.call('PUBLISH', ${channelArg}, ${messageArg}) announced = 1 end
`;

/**
 * Announces an entry stored without a lease (ARGV: channel, entry key) only while a lookup waits
 * on its lease (KEYS: the waiting mark); answers 1 when it announced.
 */
const ANNOUNCE_IF_WAITED = `
${announceIfWaited('KEYS[1]', 'ARGV[1]', 'ARGV[2]')}
return announced
`;

/**
 * On a Redis Cluster, where no wait is marked (the lease and its mark would be two commands):
 * announces an entry stored without a lease (ARGV: channel, entry key) while a lease on it is held
 * (KEYS: lease), the only time a lookup can be waiting on it.
 */
const ANNOUNCE_IF_LEASED = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PUBLISH', ARGV[1], ARGV[2]) return 1 end
return 0
`;

/**
 * Gives the lease back if `token` still holds it (KEYS[1], ARGV[1]) and announces the entry (ARGV:
 * channel, entry key) if a lookup waits on it (KEYS[2]): the end of a computation, stored or
 * failed, wakes its waiters, and one of them takes the lease if nothing was stored. Answers 1 when
 * the lease was given back.
 */
const RELEASE_AND_ANNOUNCE = `
local released = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then released = redis.call('DEL', KEYS[1]) end
${announceIfWaited('KEYS[2]', 'ARGV[2]', 'ARGV[3]')}
return released
`;

/** SET NX PX the lease; answers -10 when acquired, else the holder's remaining PTTL (-2: gone meanwhile). */
const ACQUIRE_OR_PTTL = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return -10 end
return redis.call('PTTL', KEYS[1])
`;

/**
 * One step of a missed key's single flight, atomically: take the lease (SET NX PX) and look at the
 * entry once more. KEYS: lease, entry, stats hash, waiting mark. ARGV: token, lease ms, cost per
 * token or ''. Answers the entry (a hit, counted; a lease just taken is given back), -10 (the lease
 * is the caller's; a miss counted), or the holder's PTTL (-2: gone meanwhile; nothing counted), the
 * caller marked as waiting.
 */
const ACQUIRE_OR_READ = `
local acquired = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
local v = redis.call('GET', KEYS[2])
if not v then
  if acquired then
    redis.call('HINCRBY', KEYS[3], 'misses', 1)
    return -10
  end
${markWaitingAndReturnPttl('KEYS[1]', 'KEYS[4]')}
end
if acquired then redis.call('DEL', KEYS[1]) end
${countHitOfV('KEYS[3]', 'ARGV[3]')}
return v
`;

/**
 * The first step of a one-key lookup, atomically: GET the entry (a hit, counted), else take the
 * lease (SET NX PX) and count the miss, else mark the caller as waiting and answer the holder's
 * PTTL. KEYS: entry, lease, stats hash, complete marker, waiting mark. ARGV: token, lease ms, cost
 * per token or ''. Answers as ACQUIRE_OR_READ
 * does (the same outcomes: within one script the order of the GET and the SET is not observable,
 * and a hit here never touches the lease), the lease taken as -11 instead of -10 when Redis is
 * complete (no PostgreSQL look-up to make).
 */
const READ_OR_ACQUIRE = `
local v = redis.call('GET', KEYS[1])
if v then
${countHitOfV('KEYS[3]', 'ARGV[3]')}
  return v
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('HINCRBY', KEYS[3], 'misses', 1)
  if redis.call('EXISTS', KEYS[4]) == 1 then return -11 end
  return -10
end
${markWaitingAndReturnPttl('KEYS[2]', 'KEYS[5]')}
`;

/**
 * A holder's PostgreSQL fallback found the entry: puts it back into Redis, turns the miss counted
 * when the lease was taken into a hit with what it saved, gives the lease back if the token still
 * holds it, and announces the entry if a lookup waits on it (as a release does), atomically.
 * KEYS: entry, stats hash, lease, waiting mark. ARGV: raw, ttl ms or '' (permanent), tokens,
 * nano-dollars, token, events channel. Answers 1 when the lease was given back, else 0.
 */
const REWARM_HOLDING = `
if ARGV[2] == '' then redis.call('SET', KEYS[1], ARGV[1]) else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
redis.call('HINCRBY', KEYS[2], 'misses', -1)
redis.call('HINCRBY', KEYS[2], 'hits', 1)
if tonumber(ARGV[3]) > 0 then redis.call('HINCRBY', KEYS[2], 'tokensSaved', ARGV[3]) end
if tonumber(ARGV[4]) > 0 then redis.call('HINCRBY', KEYS[2], 'costSavedNanos', ARGV[4]) end
local released = 0
if redis.call('GET', KEYS[3]) == ARGV[5] then released = redis.call('DEL', KEYS[3]) end
${announceIfWaited('KEYS[4]', 'ARGV[6]', 'KEYS[1]')}
return released
`;

/** Deletes the lease only if the token still holds it (a lease that expired and was re-taken is someone else's). */
const RELEASE_IF_HELD = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * The end of a warm: marks Redis complete only if the warm's token is still there, i.e. Redis was
 * not restarted (emptied) since the warm began. KEYS: warming token, complete marker. ARGV: token,
 * the marker's value. Answers 1 when marked.
 */
const COMPLETE_IF_WARMED = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[2])
return 1
`;

/** What SET NX PX answers (through the scripts) when the lease was taken; READ_OR_ACQUIRE's when Redis is also complete. */
const ACQUIRED = -10;
const ACQUIRED_COMPLETE = -11;

interface CacheScripts {
  cacheGetCountingHit(entryKey: string, statsKey: string, completeKey: string, costPerToken: string, countMiss: string): Promise<string | number>;
  cacheAnnounceIfLeased(leaseKey: string, channel: string, entryKey: string): Promise<number>;
  cacheAnnounceIfWaited(waitKey: string, channel: string, entryKey: string): Promise<number>;
  cacheReleaseAndAnnounce(leaseKey: string, waitKey: string, token: string, channel: string, entryKey: string): Promise<number>;
  cacheAcquireOrPttl(leaseKey: string, token: string, ttlMs: number): Promise<number>;
  cacheCompleteIfWarmed(warmingKey: string, completeKey: string, token: string, value: string): Promise<number>;
  cacheReleaseIfHeld(leaseKey: string, token: string): Promise<number>;
  cacheAcquireOrRead(leaseKey: string, entryKey: string, statsKey: string, waitKey: string, token: string, ttlMs: number, costPerToken: string): Promise<string | number>;
  cacheReadOrAcquire(entryKey: string, leaseKey: string, statsKey: string, completeKey: string, waitKey: string, token: string, ttlMs: number, costPerToken: string): Promise<string | number>;
  cacheRewarmHolding(entryKey: string, statsKey: string, leaseKey: string, waitKey: string, raw: string, ttlMs: string, tokens: number, nanos: number, token: string, channel: string): Promise<number>;
}

/**
 * A contention step's outcome: the entry (hit counted), the lease taken (miss counted; `complete`
 * when Redis holds every live entry, so PostgreSQL need not be asked), or held by another for `pttl` ms.
 */
export type ContendStep = { raw: string } | { acquired: true; complete: boolean } | { pttl: number };

/**
 * A read of an entry: found (its hit counted), or missed, `complete` when Redis holds every live
 * entry (see CacheKeyspace.completeKey); `missCounted` when the read was asked to count the miss
 * and did.
 */
export type RedisRead = { raw: string } | { raw: null; complete: boolean; missCounted: boolean };

/**
 * Which miss a read counts itself: none (the caller decides), one only when Redis is complete (an
 * entry with a PostgreSQL copy: otherwise PostgreSQL may still have it), or any (an entry kept in
 * Redis alone, whose miss is final).
 */
export type MissCounting = 'none' | 'if-complete' | 'always';
const MISS_COUNTING_ARG: Record<MissCounting, string> = { none: '', 'if-complete': 'c', always: 'a' };

export interface TierCounters {
  hits: number;
  misses: number;
  tokensSaved: number;
  costSavedNanos: number;
}

/** The Redis side of the cache: entries, counters, leases, and the event channel. */
export class RedisCacheRepository {
  private readonly scripts: CacheScripts;
  private readonly cluster: boolean;

  constructor(
    private readonly redis: Redis,
    readonly keys: CacheKeyspace,
  ) {
    redis.defineCommand('cacheGetCountingHit', { numberOfKeys: 3, lua: GET_COUNTING_HIT });
    redis.defineCommand('cacheAnnounceIfLeased', { numberOfKeys: 1, lua: ANNOUNCE_IF_LEASED });
    redis.defineCommand('cacheAnnounceIfWaited', { numberOfKeys: 1, lua: ANNOUNCE_IF_WAITED });
    redis.defineCommand('cacheReleaseAndAnnounce', { numberOfKeys: 2, lua: RELEASE_AND_ANNOUNCE });
    redis.defineCommand('cacheAcquireOrPttl', { numberOfKeys: 1, lua: ACQUIRE_OR_PTTL });
    redis.defineCommand('cacheReleaseIfHeld', { numberOfKeys: 1, lua: RELEASE_IF_HELD });
    redis.defineCommand('cacheCompleteIfWarmed', { numberOfKeys: 2, lua: COMPLETE_IF_WARMED });
    redis.defineCommand('cacheAcquireOrRead', { numberOfKeys: 4, lua: ACQUIRE_OR_READ });
    redis.defineCommand('cacheReadOrAcquire', { numberOfKeys: 5, lua: READ_OR_ACQUIRE });
    redis.defineCommand('cacheRewarmHolding', { numberOfKeys: 4, lua: REWARM_HOLDING });
    this.scripts = redis as unknown as CacheScripts;
    this.cluster = isCluster(redis);
  }

  /**
   * An entry's raw stored JSON, counting a hit when found; on a miss, whether Redis is complete, and
   * the miss counted as `countMiss` says. On a Redis Cluster the entry, its tier's counters and the
   * marker sit in different slots (entries spread over the nodes), which one script cannot touch:
   * there they are separate commands, and no miss is counted.
   */
  async getCountingHit(tier: CacheTier, entryKey: string, costPerTokenUsd?: number, countMiss: MissCounting = 'none'): Promise<RedisRead> {
    if (!this.cluster) {
      return readOf(await this.scripts.cacheGetCountingHit(entryKey, this.keys.statsKey(tier), this.keys.completeKey, costArg(costPerTokenUsd), MISS_COUNTING_ARG[countMiss]), countMiss);
    }
    const raw = await this.getThenCount(tier, entryKey, costPerTokenUsd);
    return raw !== null ? { raw } : { raw: null, complete: await this.isComplete(), missCounted: false };
  }

  /**
   * `getCountingHit` for several entries, in their order: on one Redis, one pipeline (one round
   * trip, one socket write); on a cluster the entries sit in different slots, so key by key.
   */
  async getManyCountingHit(entries: { tier: CacheTier; entryKey: string; countMiss?: MissCounting }[], costPerTokenUsd?: number): Promise<RedisRead[]> {
    if (this.cluster) return Promise.all(entries.map((e) => this.getCountingHit(e.tier, e.entryKey, costPerTokenUsd)));
    const cost = costArg(costPerTokenUsd);
    const pipeline = this.redis.pipeline();
    for (const e of entries) (pipeline as unknown as PipelineScripts).cacheGetCountingHit(e.entryKey, this.keys.statsKey(e.tier), this.keys.completeKey, cost, MISS_COUNTING_ARG[e.countMiss ?? 'none']);
    return resultsOf<string | number>(await pipeline.exec()).map((answer, i) => readOf(answer, entries[i].countMiss ?? 'none'));
  }

  /** Whether Redis holds every live entry PostgreSQL has (the marker a warm sets). */
  async isComplete(): Promise<boolean> {
    return (await this.redis.exists(this.keys.completeKey)) === 1;
  }

  /** A warm begins: its token, which `markComplete` needs (set again by a later warm, gone with a Redis restart). */
  async beginWarm(token: string): Promise<void> {
    await this.redis.set(this.keys.warmingKey, token);
  }

  /**
   * Says Redis now holds every live entry, if the warm of `token` is still the last one begun and
   * Redis was not emptied since; answers whether it did. A restart or a flush takes the marker away.
   * On a cluster the token and the marker sit in different slots: the check and the set are two
   * commands there, and a restart between them goes unseen.
   */
  async markComplete(token: string): Promise<boolean> {
    const value = new Date().toISOString();
    if (!this.cluster) return (await this.scripts.cacheCompleteIfWarmed(this.keys.warmingKey, this.keys.completeKey, token, value)) === 1;
    if ((await this.redis.get(this.keys.warmingKey)) !== token) return false;
    await this.redis.set(this.keys.completeKey, value);
    return true;
  }

  /** The cluster's read: GET, then the hit counted (the counters sit in another slot). */
  private async getThenCount(tier: CacheTier, entryKey: string, costPerTokenUsd?: number): Promise<string | null> {
    const raw = await this.redis.get(entryKey);
    if (raw !== null) {
      const { tokens, costUsd } = savingsOf(raw);
      await this.countHit(tier, tokens, savedNanos({ tokens, costUsd }, costPerTokenUsd));
    }
    return raw;
  }

  async countMiss(tier: CacheTier): Promise<void> {
    await this.redis.hincrby(this.keys.statsKey(tier), 'misses', 1);
  }

  async countHit(tier: CacheTier, tokens: number, nanos: number): Promise<void> {
    const key = this.keys.statsKey(tier);
    const pipeline = this.redis.multi().hincrby(key, 'hits', 1);
    if (tokens > 0) pipeline.hincrby(key, 'tokensSaved', tokens);
    if (nanos > 0) pipeline.hincrby(key, 'costSavedNanos', nanos);
    await pipeline.exec();
  }

  async counters(tier: CacheTier): Promise<TierCounters> {
    const raw = await this.redis.hgetall(this.keys.statsKey(tier));
    const n = (field: string) => Number(raw[field] ?? 0);
    return { hits: n('hits'), misses: n('misses'), tokensSaved: n('tokensSaved'), costSavedNanos: n('costSavedNanos') };
  }

  /** Stores the raw JSON; `ttlMs` null keeps it until deleted (system tier). */
  async set(entryKey: string, raw: string, ttlMs: number | null): Promise<void> {
    if (ttlMs === null) await this.redis.set(entryKey, raw);
    else await this.redis.set(entryKey, raw, 'PX', ttlMs);
  }

  /** Many entries in one round trip (warming); `ttlMs` null: permanent. */
  async setMany(entries: { entryKey: string; raw: string; ttlMs: number | null }[]): Promise<void> {
    if (entries.length === 0) return;
    // A cluster pipeline must stay on one node; concurrent SETs are pipelined per node by the client.
    if (this.cluster) {
      await Promise.all(entries.map(({ entryKey, raw, ttlMs }) => this.set(entryKey, raw, ttlMs)));
      return;
    }
    const pipeline = this.redis.pipeline();
    for (const { entryKey, raw, ttlMs } of entries) {
      if (ttlMs === null) pipeline.set(entryKey, raw);
      else pipeline.set(entryKey, raw, 'PX', ttlMs);
    }
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0];
  }

  async exists(entryKey: string): Promise<boolean> {
    return (await this.redis.exists(entryKey)) === 1;
  }

  async delete(entryKey: string): Promise<boolean> {
    return (await this.redis.del(entryKey)) === 1;
  }

  /**
   * Deletes every key matching `pattern` (SCAN, then UNLINK in batches) and answers the keys it
   * removed. SCAN may return a key twice; the caller counts distinct keys. A SCAN sees one node's
   * keys, so on a cluster every master is scanned, and its keys (of many slots) unlinked one
   * command each, in one pipeline to that node.
   */
  async deleteMatching(pattern: string): Promise<string[]> {
    const removed: string[] = [];
    for (const node of mastersOf(this.redis)) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (!keys.length) continue;
        if (this.cluster) await node.pipeline(keys.map((key) => ['unlink', key])).exec();
        else await node.unlink(...keys);
        removed.push(...keys);
      } while (cursor !== '0');
    }
    return removed;
  }

  /**
   * How many entries Redis holds per tier: one SCAN over every entry key (on every master of a
   * cluster), each key counted once (SCAN may return a key twice).
   */
  async countEntries(): Promise<Record<CacheTier, number>> {
    const seen = new Set<string>();
    const counts: Record<CacheTier, number> = { system: 0, session: 0, content: 0 };
    const after = `${this.keys.prefix}:cache:`.length;
    for (const node of mastersOf(this.redis)) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', this.keys.allEntriesPattern, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          if (seen.has(key)) continue;
          seen.add(key);
          const tier = key.slice(after, key.indexOf(':', after)) as CacheTier;
          if (tier in counts) counts[tier]++;
        }
      } while (cursor !== '0');
    }
    return counts;
  }

  /** -10 when the lease is now `token`'s; otherwise the holder's remaining milliseconds. */
  acquireLease(leaseKey: string, token: string, ttlMs: number): Promise<number> {
    return this.scripts.cacheAcquireOrPttl(leaseKey, token, ttlMs);
  }

  /**
   * Takes the lease or reads the entry, counting a hit or a final miss (ACQUIRE_OR_READ). On a
   * cluster the lease, the entry and the counters sit in different slots: there it is the same
   * steps as separate commands (acquire; read; give a just-taken lease back on a late hit).
   */
  async acquireOrRead(tier: CacheTier, leaseKey: string, entryKey: string, token: string, ttlMs: number, costPerTokenUsd?: number): Promise<ContendStep> {
    if (!this.cluster) {
      return stepOf(await this.scripts.cacheAcquireOrRead(leaseKey, entryKey, this.keys.statsKey(tier), waitKeyOf(leaseKey), token, ttlMs, costArg(costPerTokenUsd)));
    }
    const pttl = await this.acquireLease(leaseKey, token, ttlMs);
    const raw = await this.getThenCount(tier, entryKey, costPerTokenUsd);
    if (raw !== null) {
      if (pttl === ACQUIRED) await this.releaseLease(leaseKey, token);
      return { raw };
    }
    if (pttl !== ACQUIRED) return { pttl };
    await this.countMiss(tier);
    return { acquired: true, complete: false };
  }

  /**
   * A one-key lookup's first step (READ_OR_ACQUIRE): the entry (hit counted), else the lease taken
   * (miss counted), else the holder's PTTL; one round trip. On a cluster the entry, the lease and
   * the counters sit in different slots: the same steps as separate commands (read; acquire; count
   * the miss). There an entry stored between the read and the acquire is not seen here: of a
   * durable tier, the holder's PostgreSQL fallback, which follows, finds it (puts write PostgreSQL
   * first); of a tier in Redis alone, the holder computes it once more (a cost, never a wrong answer).
   */
  async readOrAcquire(tier: CacheTier, entryKey: string, leaseKey: string, token: string, ttlMs: number, costPerTokenUsd?: number): Promise<ContendStep> {
    if (!this.cluster) {
      return stepOf(await this.scripts.cacheReadOrAcquire(entryKey, leaseKey, this.keys.statsKey(tier), this.keys.completeKey, waitKeyOf(leaseKey), token, ttlMs, costArg(costPerTokenUsd)));
    }
    const raw = await this.getThenCount(tier, entryKey, costPerTokenUsd);
    if (raw !== null) return { raw };
    const pttl = await this.acquireLease(leaseKey, token, ttlMs);
    if (pttl !== ACQUIRED) return { pttl };
    await this.countMiss(tier);
    // Never `complete` on a cluster: only the fallback finds an entry stored between the read and the acquire.
    return { acquired: true, complete: false };
  }

  /**
   * The holder of a lease found the entry in PostgreSQL (REWARM_HOLDING): the entry back into Redis
   * for `ttlMs` (null: permanent), the miss counted with the lease turned into a hit saving `tokens`
   * and `nanos`, the lease given back if `token` still holds it, the entry announced. Answers
   * whether the lease was given back. On a cluster, as separate commands in that order.
   */
  async rewarmHolding(tier: CacheTier, entryKey: string, leaseKey: string, token: string, raw: string, ttlMs: number | null, tokens: number, nanos: number): Promise<boolean> {
    if (!this.cluster) {
      const released = await this.scripts.cacheRewarmHolding(entryKey, this.keys.statsKey(tier), leaseKey, waitKeyOf(leaseKey), raw, ttlMs === null ? '' : String(ttlMs), tokens, nanos, token, this.keys.eventsChannel);
      return released === 1;
    }
    await this.set(entryKey, raw, ttlMs);
    const key = this.keys.statsKey(tier);
    const pipeline = this.redis.multi().hincrby(key, 'misses', -1).hincrby(key, 'hits', 1);
    if (tokens > 0) pipeline.hincrby(key, 'tokensSaved', tokens);
    if (nanos > 0) pipeline.hincrby(key, 'costSavedNanos', nanos);
    await pipeline.exec();
    const released = await this.releaseLease(leaseKey, token);
    await this.announce(entryKey);
    return released;
  }

  async releaseLease(leaseKey: string, token: string): Promise<boolean> {
    return (await this.scripts.cacheReleaseIfHeld(leaseKey, token)) === 1;
  }

  /**
   * The end of a computation that holds `token`'s lease: the lease given back if still held, and
   * the entry announced if a lookup waits on it (RELEASE_AND_ANNOUNCE); answers whether the lease
   * was given back. On a cluster, where no wait is marked, always announced.
   */
  async releaseAndAnnounce(leaseKey: string, entryKey: string, token: string): Promise<boolean> {
    if (!this.cluster) return (await this.scripts.cacheReleaseAndAnnounce(leaseKey, waitKeyOf(leaseKey), token, this.keys.eventsChannel, entryKey)) === 1;
    const released = await this.releaseLease(leaseKey, token);
    await this.announce(entryKey);
    return released;
  }

  /**
   * The Redis side of a put-many: each entry SET with its TTL (`ttlMs` null: permanent), then each
   * lease released if its token still holds it (when the put carried one), and the entry announced
   * if a lookup waits on it, as `set` and `releaseAndAnnounce` or `announceIfWaiting` would one by one; answers whether each lease was released
   * (false where none was given). On one Redis one pipeline, whose commands run in this order; on a
   * cluster the keys sit in different slots: the SETs first, then the rest, key by key.
   */
  async storeAndComplete(entries: { entryKey: string; raw: string; ttlMs: number | null; leaseKey: string; token?: string }[]): Promise<boolean[]> {
    if (this.cluster) {
      await Promise.all(entries.map((e) => this.set(e.entryKey, e.raw, e.ttlMs)));
      return Promise.all(
        entries.map(async (e) => {
          if (!e.token) return this.announceIfWaiting(e.leaseKey, e.entryKey).then(() => false);
          return this.releaseAndAnnounce(e.leaseKey, e.entryKey, e.token);
        }),
      );
    }
    const pipeline = this.redis.pipeline();
    for (const e of entries) {
      if (e.ttlMs === null) pipeline.set(e.entryKey, e.raw);
      else pipeline.set(e.entryKey, e.raw, 'PX', e.ttlMs);
    }
    const scripts = pipeline as unknown as PipelineScripts;
    for (const e of entries) {
      if (e.token) scripts.cacheReleaseAndAnnounce(e.leaseKey, waitKeyOf(e.leaseKey), e.token, this.keys.eventsChannel, e.entryKey);
      else scripts.cacheAnnounceIfWaited(waitKeyOf(e.leaseKey), this.keys.eventsChannel, e.entryKey);
    }
    const results = resultsOf<unknown>(await pipeline.exec());
    return entries.map((e, i) => (e.token ? results[entries.length + i] === 1 : false));
  }

  /** Wakes lookups waiting on this entry, in every replica. */
  async announce(entryKey: string): Promise<void> {
    await this.redis.publish(this.keys.eventsChannel, entryKey);
  }

  /**
   * `announce` of an entry stored without a lease, only while a lookup waits on its lease
   * (ANNOUNCE_IF_WAITED; on a cluster, while its lease is held); answers whether it announced.
   */
  async announceIfWaiting(leaseKey: string, entryKey: string): Promise<boolean> {
    if (this.cluster) return (await this.scripts.cacheAnnounceIfLeased(leaseKey, this.keys.eventsChannel, entryKey)) === 1;
    return (await this.scripts.cacheAnnounceIfWaited(waitKeyOf(leaseKey), this.keys.eventsChannel, entryKey)) === 1;
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}

/** The scripts as queued on a pipeline (ioredis adds defined commands to pipelines too). */
interface PipelineScripts {
  cacheGetCountingHit(entryKey: string, statsKey: string, completeKey: string, costPerToken: string, countMiss: string): unknown;
  cacheReleaseAndAnnounce(leaseKey: string, waitKey: string, token: string, channel: string, entryKey: string): unknown;
  cacheAnnounceIfWaited(waitKey: string, channel: string, entryKey: string): unknown;
}

/** The key that marks a lookup waiting on the lease `leaseKey` (one Redis only: see markWaitingAndReturnPttl). */
const waitKeyOf = (leaseKey: string): string => `${leaseKey}:waiting`;

/** A contention script's answer as a step: the entry, the lease taken (ACQUIRED), or the holder's PTTL. */
function stepOf(answer: string | number): ContendStep {
  if (typeof answer === 'string') return { raw: answer };
  if (answer === ACQUIRED || answer === ACQUIRED_COMPLETE) return { acquired: true, complete: answer === ACQUIRED_COMPLETE };
  return { pttl: answer };
}

/** GET_COUNTING_HIT's answer as a read: the entry, or a miss with the marker's presence (1 or 0). */
function readOf(answer: string | number, countMiss: MissCounting): RedisRead {
  if (typeof answer === 'string') return { raw: answer };
  const complete = answer === 1;
  return { raw: null, complete, missCounted: countMiss === 'always' || (countMiss === 'if-complete' && complete) };
}

/** A cost per token as the scripts take it ('' when none). */
const costArg = (costPerTokenUsd: number | undefined): string => (costPerTokenUsd === undefined ? '' : String(costPerTokenUsd));

/** A pipeline's answers in order; the first command that failed throws. */
function resultsOf<T>(results: [Error | null, unknown][] | null): T[] {
  if (!results) throw new Error('Redis pipeline was discarded');
  const failed = results.find(([err]) => err);
  if (failed) throw failed[0];
  return results.map(([, value]) => value as T);
}

/** What a stored entry saved (its tokens, its cost when stored with one), read as the hit script reads it. */
function savingsOf(raw: string): { tokens: number; costUsd?: number } {
  try {
    const entry = JSON.parse(raw) as { tokens?: unknown; costUsd?: unknown };
    const tokens = Number(entry.tokens);
    const costUsd = Number(entry.costUsd);
    return { tokens: Number.isFinite(tokens) ? tokens : 0, costUsd: entry.costUsd == null || !Number.isFinite(costUsd) ? undefined : costUsd };
  } catch {
    return { tokens: 0 };
  }
}
