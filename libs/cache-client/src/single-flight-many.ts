import type { CacheKeyParts, CacheLookupResponse, CachePutManyItem } from '@qv/contracts';
import type { SingleFlightCache } from './cache-client';
import { assertValidScope } from './cache-key';
import type { Computed, SingleFlightOptions, SingleFlightResult } from './single-flight';

/** One key of `singleFlightMany`: what `singleFlight` takes for one key. */
export interface SingleFlightItem<T> {
  key: CacheKeyParts;
  /** The plan's TTL for the key's tier; null for session/content = no cache for this key. */
  ttlSeconds: number | null;
  compute: () => Promise<Computed<T>>;
  /** Checks a cached value's shape; a value that fails it is recomputed (and overwritten). */
  parse?: (value: unknown) => T;
}

export type SingleFlightManyOptions = Omit<SingleFlightOptions<unknown>, 'parse'>;

/** A key that was asked of the cache, and what its lookup answered. */
interface Asked {
  index: number;
  lookup: CacheLookupResponse;
}

/**
 * `singleFlight` for several distinct keys with two calls in all: one `lookupMany` for every key
 * that may be cached, then the misses computed one after another, in the items' order, then one
 * `putMany` of what was computed. Answers in the items' order. The same semantics per key:
 *
 * - a session/content key with a null TTL is not asked (nor put); its `compute` just runs;
 * - FAIL OPEN: when the lookup fails, every asked key is computed without the cache
 *   (`cacheUnavailable: true`, nothing put); when the put fails, the computed values are still
 *   answered (`cacheUnavailable: true`) and their leases given back;
 * - a failing `compute` is rethrown — after what was already computed is put (it is paid for, and
 *   a retry finds it) and every lease not yet used is given back (so waiters take over at once).
 *
 * The keys must be distinct (cache-service refuses the same key twice in one call). Holding every
 * lease while the misses compute one by one keeps the lease of the last key for the whole run:
 * another caller of that key waits for it (up to its own `waitMs`) or, past the lease's life,
 * computes too.
 */
export async function singleFlightMany<T>(client: SingleFlightCache, items: SingleFlightItem<T>[], options: SingleFlightManyOptions = {}): Promise<SingleFlightResult<T>[]> {
  for (const item of items) assertValidScope(item.key.tier, item.key.scope);
  const report = options.onCacheError ?? (() => undefined);
  const cacheable = items.flatMap((item, index) => (item.key.tier === 'system' || item.ttlSeconds !== null ? [index] : []));
  const readOptions = options.costPerTokenUsd === undefined ? {} : { costPerTokenUsd: options.costPerTokenUsd };

  let asked: Asked[] = [];
  let unavailable = false;
  if (cacheable.length > 0) {
    try {
      const lookups = await client.lookupMany(cacheable.map((i) => items[i].key), options.waitMs, readOptions);
      asked = cacheable.map((index, j) => ({ index, lookup: lookups[j] }));
    } catch (err) {
      report(err, 'lookup');
      unavailable = true;
    }
  }
  const lookupOf = new Map(asked.map((a) => [a.index, a.lookup]));

  const results: SingleFlightResult<T>[] = [];
  /** What to put once every miss is computed: the item, its value, its lease token. */
  const toPut: { index: number; computed: Computed<T>; token?: string }[] = [];
  let failure: { err: unknown } | undefined;
  for (let index = 0; index < items.length && !failure; index++) {
    const item = items[index];
    const tier = item.key.tier;
    const lookup = lookupOf.get(index);
    if (lookup?.hit) {
      const served = serve(item, lookup.entry);
      if (served) {
        results[index] = { ...served, hit: true, tier };
        continue;
      }
    }
    try {
      const computed = await item.compute();
      results[index] = { ...computed, hit: false, tier, ...(unavailable && cacheable.includes(index) ? { cacheUnavailable: true as const } : {}) };
      // A hit that no longer parsed is replaced: put without a lease (none is held for a hit).
      if (lookup) toPut.push({ index, computed, token: lookup.hit ? undefined : (lookup.lease?.token ?? undefined) });
    } catch (err) {
      failure = { err };
    }
  }

  const unused = asked.flatMap(({ index, lookup }) => (!lookup.hit && lookup.lease && !toPut.some((p) => p.index === index) ? [{ key: items[index].key, token: lookup.lease.token }] : []));
  await Promise.all(unused.map(({ key, token }) => client.releaseLease(key, token).catch((err) => report(err, 'releaseLease'))));

  if (toPut.length > 0) {
    const puts: CachePutManyItem[] = toPut.map(({ index, computed, token }) => ({
      key: items[index].key,
      entry: { value: computed.value, tokens: computed.tokens, model: computed.model, ...(computed.costUsd === undefined ? {} : { costUsd: computed.costUsd }) },
      ttlSeconds: items[index].ttlSeconds,
      ...(token ? { leaseToken: token } : {}),
    }));
    try {
      await client.putMany(puts);
    } catch (err) {
      // The values are computed and paid for: a failed put loses only the saving, never the results.
      // Giving the leases back lets waiters go on now rather than after their whole wait.
      report(err, 'put');
      const held = puts.flatMap((p) => (p.leaseToken ? [{ key: p.key, token: p.leaseToken }] : []));
      await Promise.all(held.map(({ key, token }) => client.releaseLease(key, token).catch((releaseErr) => report(releaseErr, 'releaseLease'))));
      for (const { index } of toPut) results[index] = { ...results[index], cacheUnavailable: true };
    }
  }

  if (failure) throw failure.err;
  return results;
}

/** A hit's value as the item reads it, or undefined when it no longer parses (then recomputed). */
function serve<T>(item: SingleFlightItem<T>, entry: Extract<CacheLookupResponse, { hit: true }>['entry']): Computed<T> | undefined {
  let value: T;
  try {
    value = item.parse ? item.parse(entry.value) : (entry.value as T);
  } catch {
    return undefined;
  }
  return { value, tokens: entry.tokens, model: entry.model, ...(entry.costUsd === undefined ? {} : { costUsd: entry.costUsd }) };
}
