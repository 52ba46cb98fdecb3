import {
  CacheDeleteResponse,
  CacheGetResponse,
  CacheLeaseReleaseResponse,
  CacheLookupManyResponse,
  CacheLookupResponse,
  CachePurgeResponse,
  CachePutManyResponse,
  CachePutResponse,
  CacheStats,
  CacheWarmResponse,
  type CacheEntryValue,
  type CacheKeyParts,
  type CachePurgeBody,
  type CachePutManyItem,
} from '@qv/contracts';
import { InternalClient } from '@qv/http';

export interface CacheClientOptions {
  /** cache-service origin, e.g. `http://127.0.0.1:3003`. */
  baseUrl: string;
  /** Deadline of every call except the wait inside `lookup`. Default 2000 ms. */
  timeoutMs?: number;
  /**
   * The longest single-flight wait this client asks for; `lookup` calls get `timeoutMs` on top of it.
   * Keep it ≥ the service's SINGLE_FLIGHT_WAIT_MS when you call `lookup` without `waitMs`. Default 10000 ms.
   */
  maxWaitMs?: number;
  /** Keep-alive sockets to cache-service. Default 64. */
  connections?: number;
  /**
   * The calling service's credential (SERVICE_TOKEN_WORKER or SERVICE_TOKEN_API): the worker's may
   * get, lookup, put and release leases; api-service's may read stats, purge, warm and delete.
   * A refused credential throws `CredentialRefusedError` (an `UnreachableError`).
   */
  credential?: string;
}

/**
 * What `singleFlight` and `singleFlightMany` need of a cache: this client (cache-service over HTTP)
 * or the cache run in the calling process (libs/cache LocalSingleFlightCache), which answer alike.
 */
export type SingleFlightCache = Pick<CacheClient, 'lookup' | 'lookupMany' | 'put' | 'putMany' | 'releaseLease'>;

/** Extra pricing for a read: prices a hit on an entry stored without `costUsd`. */
export interface CacheReadOptions {
  costPerTokenUsd?: number;
}

/**
 * The internal API of cache-service (DESIGN.md §6), one method per endpoint. Every method throws
 * `UnreachableError` (from @qv/http) when the service does not answer and the service's `AppError`
 * when it refuses; the fail-open policy lives in `singleFlight`, not here.
 *
 * Session and content entries belong to one user: their key's scope is the user id, and the put
 * needs the user's plan TTL. When that TTL is null (free and payg plans) do not call the cache at
 * all — no get, no lookup: nothing can be there, and a lookup would only queue behind other misses.
 */
export class CacheClient {
  private readonly http: InternalClient;
  /** Lookups may wait server-side for another holder's result, so they get their own, longer deadline. */
  private readonly waiting: InternalClient;
  private readonly maxWaitMs: number;

  constructor(options: CacheClientOptions) {
    const timeoutMs = options.timeoutMs ?? 2000;
    this.maxWaitMs = options.maxWaitMs ?? 10_000;
    const connections = options.connections ?? 64;
    const { baseUrl, credential } = options;
    this.http = new InternalClient({ service: 'cache-service', baseUrl, timeoutMs, connections, credential });
    this.waiting = new InternalClient({ service: 'cache-service', baseUrl, timeoutMs: timeoutMs + this.maxWaitMs, connections, credential });
  }

  /** Reads an entry; counts a hit or a miss for the key's tier. */
  get(key: CacheKeyParts, options: CacheReadOptions = {}): Promise<CacheGetResponse> {
    return this.http.call('POST', '/internal/cache/get', CacheGetResponse, { v: 1, key, ...options });
  }

  /**
   * Stores an entry. System tier: permanent (PostgreSQL and Redis), `ttlSeconds` ignored. Session and
   * content: kept `ttlSeconds`; null means the user's plan has no cache and nothing is stored
   * (`{stored: false}`). With `leaseToken` the put also completes that single-flight lease.
   */
  put(key: CacheKeyParts, entry: CacheEntryValue, ttlSeconds: number | null, leaseToken?: string): Promise<{ stored: boolean }> {
    return this.http.call('POST', '/internal/cache/put', CachePutResponse, { v: 1, key, entry, ttlSeconds, ...(leaseToken ? { leaseToken } : {}) });
  }

  /**
   * Single-flight read: `{hit: true, entry}`; or `{hit: false, lease: {token}}` — you compute, then
   * `put(…, token)` or `releaseLease` on failure; or, when another caller held the lease for longer
   * than `waitMs`, `{hit: false, lease: null, reason: 'wait_timeout'}` — compute on your own.
   * `waitMs` defaults to the service's SINGLE_FLIGHT_WAIT_MS and is capped by it and by `maxWaitMs`.
   */
  lookup(key: CacheKeyParts, waitMs?: number, options: CacheReadOptions = {}): Promise<CacheLookupResponse> {
    const wait = waitMs === undefined ? this.maxWaitMs : Math.min(Math.max(0, Math.floor(waitMs)), this.maxWaitMs);
    return this.waiting.call('POST', '/internal/cache/lookup', CacheLookupResponse, { v: 1, key, waitMs: wait, ...options });
  }

  /**
   * `lookup` of several distinct keys (at most 16) in one call; the answers in the keys' order.
   * `waitMs` bounds the whole call, as it bounds one lookup.
   */
  async lookupMany(keys: CacheKeyParts[], waitMs?: number, options: CacheReadOptions = {}): Promise<CacheLookupResponse[]> {
    const wait = waitMs === undefined ? this.maxWaitMs : Math.min(Math.max(0, Math.floor(waitMs)), this.maxWaitMs);
    const { results } = await this.waiting.call('POST', '/internal/cache/lookup-many', CacheLookupManyResponse, { v: 1, keys, waitMs: wait, ...options });
    if (results.length !== keys.length) throw new Error(`cache-service answered ${results.length} lookups for ${keys.length} keys`);
    return results;
  }

  /** `put` of several distinct keys (at most 16) in one call; `stored` in their order. */
  async putMany(puts: CachePutManyItem[]): Promise<boolean[]> {
    const body = puts.map(({ key, entry, ttlSeconds, leaseToken }) => ({ key, entry, ttlSeconds: ttlSeconds ?? null, ...(leaseToken ? { leaseToken } : {}) }));
    const { stored } = await this.http.call('POST', '/internal/cache/put-many', CachePutManyResponse, { v: 1, puts: body });
    if (stored.length !== puts.length) throw new Error(`cache-service answered ${stored.length} puts for ${puts.length} entries`);
    return stored;
  }

  /** Gives a lease back without a result (the computation failed), so a waiter takes over at once. */
  releaseLease(key: CacheKeyParts, token: string): Promise<{ released: boolean }> {
    return this.http.call('POST', '/internal/cache/lease/release', CacheLeaseReleaseResponse, { v: 1, key, token });
  }

  /** Removes one entry from Redis and PostgreSQL. */
  delete(key: CacheKeyParts): Promise<{ deleted: boolean }> {
    return this.http.call('POST', '/internal/cache/delete', CacheDeleteResponse, { v: 1, key });
  }

  /** Per tier: entries, hits, misses, hit ratio, tokens and USD saved (summed over every replica). */
  stats(): Promise<CacheStats> {
    return this.http.call('GET', '/internal/cache/stats', CacheStats);
  }

  /** Removes every entry of a tier, of a user, of both, or (`{}`) all of them; answers how many. */
  purge(filter: CachePurgeBody = {}): Promise<{ purged: number }> {
    return this.waiting.call('POST', '/internal/cache/purge', CachePurgeResponse, filter);
  }

  /** Reloads the system tier from PostgreSQL into Redis. */
  warm(): Promise<{ warmed: number }> {
    return this.waiting.call('POST', '/internal/cache/warm', CacheWarmResponse, {});
  }

  async close(): Promise<void> {
    await Promise.all([this.http.close(), this.waiting.close()]);
  }
}
