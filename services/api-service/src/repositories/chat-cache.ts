import { cacheKey } from '@qv/cache-client';
import type { CacheService } from '@qv/cache';
import type { CacheEntryValue, CacheGetResponse, CacheKeyParts } from '@qv/contracts';
import { KeyedBatcher, withTimeout, type KeyedBatcherOptions } from '@qv/http';

/** The two cache operations the chat path makes: a read of the call's key and a fill after the answer. */
export interface ChatCache {
  get(key: CacheKeyParts): Promise<CacheGetResponse>;
  /**
   * Need not be awaited before answering: a `get` of the same entry on this cache waits for the fill
   * first, so a client's next call to this replica reads what its last one stored.
   */
  put(key: CacheKeyParts, entry: CacheEntryValue, ttlSeconds: number | null): Promise<{ stored: boolean }>;
  /** Resolves once every fill begun has ended (before the process stops). */
  drain(): Promise<void>;
}

interface Fill {
  key: CacheKeyParts;
  entry: CacheEntryValue;
  ttlSeconds: number | null;
}

/** A fill's outcome, once it is only waited for (its caller logs a failure). */
const forget = (): void => undefined;

/**
 * A key's identity in a batch: the same entry twice never shares one (its upsert could not affect a
 * row twice). Asked again each time a waiting request is passed over; a call's key is frozen, so
 * `cacheKey` hashes it once.
 */
const entryOf = (key: CacheKeyParts): string => `${key.tier}:${key.scope}:${cacheKey(key)}`;

/**
 * A group's requests: the first of each entry together (`together`, which refuses a key twice),
 * then any repeat of an entry alone (`alone`), after the group, so it sees what the group did —
 * as if each had been sent alone in that order. Answers in the group's order.
 */
async function distinctTogether<Q, R>(requests: Q[], keyOf: (q: Q) => CacheKeyParts, together: (firsts: Q[]) => Promise<R[]>, alone: (q: Q) => Promise<R>): Promise<Array<{ value: R }>> {
  const seen = new Set<string>();
  const firsts: number[] = [];
  const repeats: number[] = [];
  requests.forEach((q, i) => {
    const entry = entryOf(keyOf(q));
    (seen.has(entry) ? repeats : firsts).push(i);
    seen.add(entry);
  });
  const answers: R[] = new Array(requests.length);
  (await together(firsts.map((i) => requests[i]))).forEach((answer, k) => (answers[firsts[k]] = answer));
  for (const i of repeats) answers[i] = await alone(requests[i]);
  return answers.map((value) => ({ value }));
}

/**
 * The chat path's cache, run in this process (libs/cache, the code cache-service serves) on this
 * replica's Redis and PostgreSQL: the same entries, keys, counters and metrics as through
 * cache-service, without a hop of its own per read and per fill (bench/gateway.bench.ts: the hop
 * cost more CPU than the look-up). The reads and the fills of calls that overlap go together
 * (KeyedBatcher): one Redis pipeline and one PostgreSQL statement for each group, a statement and a
 * commit per call saved. Each operation has the deadline cache-service's had (`CACHE_TIMEOUT_MS`):
 * the cache only saves money, a slow one must not hold the answer (the caller fails open).
 */
export class InProcessChatCache implements ChatCache {
  private readonly reads: KeyedBatcher<CacheKeyParts, string | null>;
  private readonly fills: KeyedBatcher<Fill, boolean>;
  /** The fills not ended yet, by entry: what a read of that entry waits for. */
  private readonly filling = new Map<string, Promise<void>>();

  constructor(
    cache: CacheService,
    private readonly timeoutMs: number,
    /** Two groups on their way at once, what arrives meanwhile gathering into the next. */
    batching: KeyedBatcherOptions = { maxBatch: 64, maxInFlight: 2 },
  ) {
    const getOne = (key: CacheKeyParts) => cache.get({ v: 1, key });
    const putOne = ({ key, entry, ttlSeconds }: Fill) => cache.put({ v: 1, key, entry, ttlSeconds });
    this.reads = new KeyedBatcher<CacheKeyParts, string | null>(
      {
        key: entryOf,
        sendBatch: (keys) => distinctTogether(keys, (k) => k, (firsts) => cache.getMany(firsts), getOne),
        sendOne: getOne,
        retryAlone: () => false, // a read that failed is a miss: the caller answers without the cache
      },
      batching,
    );
    this.fills = new KeyedBatcher<Fill, boolean>(
      {
        key: (fill) => entryOf(fill.key),
        sendBatch: (fills) => distinctTogether(fills, (fill) => fill.key, (firsts) => cache.putMany({ v: 1, puts: firsts }), putOne),
        sendOne: putOne,
        retryAlone: () => false, // a fill that failed is only a later miss
      },
      batching,
    );
  }

  async get(key: CacheKeyParts): Promise<CacheGetResponse> {
    const filling = this.filling.get(entryOf(key));
    if (filling) await filling;
    const raw = await withTimeout(this.reads.run(key), this.timeoutMs);
    return raw === null ? { hit: false, entry: null } : { hit: true, entry: JSON.parse(raw) as CacheEntryValue };
  }

  async put(key: CacheKeyParts, entry: CacheEntryValue, ttlSeconds: number | null): Promise<{ stored: boolean }> {
    const identity = entryOf(key);
    const fill = withTimeout(this.fills.run({ key, entry, ttlSeconds }), this.timeoutMs);
    const ended: Promise<void> = fill.then(forget, forget).then(() => {
      if (this.filling.get(identity) === ended) this.filling.delete(identity);
    });
    this.filling.set(identity, ended);
    return { stored: await fill };
  }

  async drain(): Promise<void> {
    while (this.filling.size > 0) await Promise.all(this.filling.values());
  }
}
