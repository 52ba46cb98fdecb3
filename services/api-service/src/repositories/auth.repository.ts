import { hashApiKey, type SqlPort } from '@qv/db/sql';
import { withTimeout } from '@qv/http';
import type { Logger } from 'pino';

export interface Principal {
  userId: string;
  planId: string;
  role: 'user' | 'admin';
}

/**
 * What a replica must forget: one key (revoked, or just issued and perhaps remembered as unknown)
 * or every key of one user (its plan or role changed).
 */
export type AuthEviction = { keyHash: string } | { userId: string };

/** Tells every other replica about an eviction (auth-evictions.ts: Redis pub/sub). */
export interface AuthEvictionPublisher {
  publish(eviction: AuthEviction): Promise<void>;
}

export interface PrincipalResolverOptions {
  /** How long a found key is trusted without a look-up (default 5 s). */
  ttlMs?: number;
  /** How long an unknown key is remembered as unknown (default 5 s). */
  negativeTtlMs?: number;
  /** Entries of each cache (found, unknown); the oldest goes first (default 10,000). */
  maxEntries?: number;
  /** Without it evictions are this replica's alone, and the others see them within `ttlMs`. */
  publisher?: AuthEvictionPublisher;
  /** Longest wait for the publish before the caller answers anyway (default 500 ms). */
  publishTimeoutMs?: number;
  logger?: Pick<Logger, 'warn'>;
  /** Told of every eviction on this replica (`'all'` for evictAll), for what else is kept per user (RefusalMemo). */
  onEvict?: (eviction: AuthEviction | 'all') => void;
}

/**
 * Resolves API keys to users by the key's hash. Every request authenticates, and a database round
 * trip each time halves the accept rate, so:
 * - found principals are kept `ttlMs` (5 s);
 * - unknown keys are kept `negativeTtlMs` (5 s), so a flood of one wrong key reaches PostgreSQL
 *   once per replica per 5 s, not once per request. Both caches are bounded (`maxEntries` each);
 * - concurrent look-ups of one key are one query.
 *
 * A revocation, a new key or a changed user is evicted at once on the replica that made it
 * (`announce`) and published to the others, which evict on receipt (`evict`): a revoked key's very
 * next request on the revoking replica is refused, on the others as soon as the message arrives
 * (milliseconds). Redis pub/sub is at-most-once: a replica that misses the message (Redis down, its
 * subscription broken) still drops the entry when it expires, so `ttlMs` stays the bound on every
 * replica whatever Redis does; a replica that resubscribes forgets everything (`evictAll`), as it
 * cannot know what it missed. Quota limits are never cached here (the charge reads them in its own
 * transaction); a user's kept refusals (RefusalMemo) are forgotten with the user (`onEvict`).
 *
 * A look-up that started before an eviction must not put back what the eviction removed (the row it
 * read may predate the revocation): every eviction bumps `generation`, and a look-up whose
 * generation changed meanwhile answers its own request but caches nothing.
 */
export class PrincipalResolver {
  private readonly found = new Map<string, { principal: Principal; until: number }>();
  private readonly unknown = new Map<string, number>();
  private readonly lookups = new Map<string, { generation: number; promise: Promise<Principal | null> }>();
  private generation = 0;
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;

  constructor(
    private readonly db: SqlPort,
    private readonly options: PrincipalResolverOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5000;
    this.negativeTtlMs = options.negativeTtlMs ?? 5000;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  async resolve(apiKey: string): Promise<Principal | null> {
    const hash = hashApiKey(apiKey);
    const now = Date.now();
    const cached = this.found.get(hash);
    if (cached && cached.until > now) return cached.principal;
    const unknownUntil = this.unknown.get(hash);
    if (unknownUntil !== undefined && unknownUntil > now) return null;

    // One look-up per key at a time: a burst of one key (a client's first requests, or a flood of
    // one wrong key sent in parallel) waits for the same query. Only a look-up begun since the last
    // eviction is joined, so nobody gets an answer read before a revocation announced to them.
    const pending = this.lookups.get(hash);
    if (pending && pending.generation === this.generation) return pending.promise;
    const generation = this.generation;
    const promise = this.lookUp(hash, generation).finally(() => {
      if (this.lookups.get(hash)?.promise === promise) this.lookups.delete(hash);
    });
    this.lookups.set(hash, { generation, promise });
    return promise;
  }

  private async lookUp(hash: string, generation: number): Promise<Principal | null> {
    const [key] = (
      await this.db.query<{ userId: string; planId: string; role: string; revokedAt: Date | null }>(
        `SELECT u.id AS "userId", u.plan_id AS "planId", u.role, k.revoked_at AS "revokedAt" FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1`,
        [hash],
      )
    ).rows;
    const principal: Principal | null = !key || key.revokedAt ? null : { userId: key.userId, planId: key.planId, role: key.role === 'admin' ? 'admin' : 'user' };
    if (generation !== this.generation) return principal;
    if (principal) {
      this.unknown.delete(hash);
      setBounded(this.found, hash, { principal, until: Date.now() + this.ttlMs }, this.maxEntries);
    } else {
      this.found.delete(hash);
      setBounded(this.unknown, hash, Date.now() + this.negativeTtlMs, this.maxEntries);
    }
    return principal;
  }

  /** The principal of `apiKey` if this replica holds it as valid now, without any look-up. */
  cached(apiKey: string): Principal | undefined {
    const entry = this.found.get(hashApiKey(apiKey));
    return entry && entry.until > Date.now() ? entry.principal : undefined;
  }

  /** Forgets on this replica only (a message from another replica, or `announce`). */
  evict(eviction: AuthEviction): void {
    this.generation++;
    this.options.onEvict?.(eviction);
    if ('keyHash' in eviction) {
      this.found.delete(eviction.keyHash);
      this.unknown.delete(eviction.keyHash);
      return;
    }
    for (const [hash, entry] of this.found) if (entry.principal.userId === eviction.userId) this.found.delete(hash);
  }

  /** Forgets everything: evictions may have been missed (the subscription was broken). */
  evictAll(): void {
    this.generation++;
    this.options.onEvict?.('all');
    this.found.clear();
    this.unknown.clear();
  }

  /**
   * Call after the change is committed: evicts here at once, then publishes to the other replicas.
   * A publish that fails or takes longer than `publishTimeoutMs` is logged, never thrown: the change
   * is already in the database, which is the truth, and the other replicas see it within `ttlMs`
   * (the stated bound) — failing the admin's request would only invite a retry of a change that
   * was made.
   */
  async announce(eviction: AuthEviction): Promise<void> {
    this.evict(eviction);
    if (!this.options.publisher) return;
    try {
      await withTimeout(this.options.publisher.publish(eviction), this.options.publishTimeoutMs ?? 500);
    } catch (err) {
      this.options.logger?.warn({ err: (err as Error).message, eviction }, `auth eviction not published: other replicas see it within ${this.ttlMs} ms`);
    }
  }
}

/** Sets `key`, dropping the oldest entry (Map order is insertion order) when full. */
function setBounded<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value!);
  map.set(key, value);
}
