import type { CacheKeyParts, CacheTier } from '@qv/contracts';
import type { SingleFlightCache } from './cache-client';
import { assertValidScope } from './cache-key';

/** What a computation produced; `tokens` and `costUsd` are what a later hit on it saves. */
export interface Computed<T> {
  value: T;
  tokens: number;
  model: string;
  costUsd?: number;
}

export interface SingleFlightResult<T> extends Computed<T> {
  /** True when the value came from the cache (nothing was computed by this call). */
  hit: boolean;
  tier: CacheTier;
  /** Set when cache-service failed or did not answer and the value was computed without it. */
  cacheUnavailable?: true;
}

export interface SingleFlightOptions<T> {
  /** Longest wait for another caller's result; default: the client's `maxWaitMs`, capped by the service. */
  waitMs?: number;
  /** Prices hits on entries stored without `costUsd`. */
  costPerTokenUsd?: number;
  /** Checks a cached value's shape; a value that fails it is recomputed (and overwritten). */
  parse?: (value: unknown) => T;
  /** Told of every cache failure that was swallowed (fail open), for logs and metrics. */
  onCacheError?: (err: unknown, operation: 'lookup' | 'put' | 'releaseLease') => void;
}

/**
 * One computation per key across every process: lookup → hit; or lease → compute → put (which
 * wakes the waiters); or, waited in vain (`wait_timeout`), compute alone and put.
 *
 * `ttlSeconds` is the user's plan TTL for the key's tier. For session and content a null TTL (free
 * and payg plans) means no cache at all: the cache is not even asked, `compute` runs, `hit` is
 * false. The system tier is permanent and ignores it.
 *
 * A failing `compute` gives its lease back (so a waiter takes over at once) and is rethrown.
 *
 * FAIL OPEN: when cache-service fails or does not answer (down, timeout, 5xx), the value is
 * computed without it and the result says `cacheUnavailable: true`. The cache only saves money and
 * latency; it must never stop an enrichment. The cost of failing open is bounded: the user was
 * charged for the call before the job ran (quota-service fails closed), so at worst the cache's
 * saving is lost. Callers count `cacheUnavailable` in a metric. A key that is invalid (scope not
 * fit for its tier) is a programming error and throws before anything else.
 */
export async function singleFlight<T>(
  client: SingleFlightCache,
  key: CacheKeyParts,
  ttlSeconds: number | null,
  compute: () => Promise<Computed<T>>,
  options: SingleFlightOptions<T> = {},
): Promise<SingleFlightResult<T>> {
  assertValidScope(key.tier, key.scope);
  const tier = key.tier;
  if (tier !== 'system' && ttlSeconds === null) {
    return { ...(await compute()), hit: false, tier };
  }
  const report = options.onCacheError ?? (() => undefined);
  const readOptions = options.costPerTokenUsd === undefined ? {} : { costPerTokenUsd: options.costPerTokenUsd };

  let lookup;
  try {
    lookup = await client.lookup(key, options.waitMs, readOptions);
  } catch (err) {
    report(err, 'lookup');
    return { ...(await compute()), hit: false, tier, cacheUnavailable: true };
  }

  if (lookup.hit) {
    const { entry } = lookup;
    let value: T;
    try {
      value = options.parse ? options.parse(entry.value) : (entry.value as T);
    } catch {
      // An entry that no longer parses (its shape changed without a prompt-version bump) is
      // replaced rather than served; no lease is held, so this is an unguarded recompute.
      return storeAndReturn(client, key, ttlSeconds, await compute(), undefined, report, tier);
    }
    return { value, tokens: entry.tokens, model: entry.model, ...(entry.costUsd === undefined ? {} : { costUsd: entry.costUsd }), hit: true, tier };
  }

  const token = lookup.lease?.token;
  let computed: Computed<T>;
  try {
    computed = await compute();
  } catch (err) {
    if (token) {
      await client.releaseLease(key, token).catch((releaseErr) => report(releaseErr, 'releaseLease'));
    }
    throw err;
  }
  return storeAndReturn(client, key, ttlSeconds, computed, token, report, tier);
}

async function storeAndReturn<T>(
  client: SingleFlightCache,
  key: CacheKeyParts,
  ttlSeconds: number | null,
  computed: Computed<T>,
  token: string | undefined,
  report: NonNullable<SingleFlightOptions<T>['onCacheError']>,
  tier: CacheTier,
): Promise<SingleFlightResult<T>> {
  const entry = { value: computed.value, tokens: computed.tokens, model: computed.model, ...(computed.costUsd === undefined ? {} : { costUsd: computed.costUsd }) };
  try {
    await client.put(key, entry, ttlSeconds, token);
  } catch (err) {
    // The value is computed and paid for: a failed put loses only the saving, never the result.
    // Giving the lease back lets waiters go on now rather than after their whole wait.
    report(err, 'put');
    if (token) await client.releaseLease(key, token).catch((releaseErr) => report(releaseErr, 'releaseLease'));
    return { ...computed, hit: false, tier, cacheUnavailable: true };
  }
  return { ...computed, hit: false, tier };
}
