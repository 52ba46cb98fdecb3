import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * One failure: counts it in a fixed window that starts at the client's first failure, and answers
 * the count with the milliseconds left in the window. One script, so the count and its expiry are
 * set together (an INCR without its PEXPIRE would count for ever).
 */
const RECORD_FAILURE = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`;

export interface AuthFailureThrottleOptions {
  /** A connection that fails fast when Redis is down (libs/queue `createFastRedis`). */
  redis: Redis;
  /** REDIS_PREFIX: the counters are `<prefix>:auth:failures:<client>`. */
  prefix: string;
  /** Failures a client may make per window; the next one is 429 AUTH_RATE_LIMITED. */
  limit: number;
  windowMs: number;
  logger?: Pick<Logger, 'warn'>;
  /** Clients remembered as blocked on this replica (default 10,000; the oldest goes first). */
  maxBlocked?: number;
}

/**
 * Failed authentications per client, counted in Redis so the limit holds summed over every
 * replica: past `limit` failures in `windowMs` the client is refused with 429 until its window
 * ends. Only failures count (a wrong or revoked key, not a missing header), so a client that
 * authenticates never pays a Redis round trip.
 *
 * Once a failure is over the limit, this replica also remembers the client as blocked until the
 * window ends (`blockedFor`), and then refuses the keys of that client it does not already hold as
 * valid without looking them up: a blocked client's flood of fresh guesses costs neither PostgreSQL
 * nor Redis. A key this replica holds as valid still passes, so a user sharing the attacker's
 * address (a NAT) keeps working while its key is cached.
 *
 * Fail open when Redis is down: the failure is answered 401 uncounted. A wrong key is refused
 * either way; the throttle only protects the database from floods, and refusing on a Redis outage
 * would turn every typo into a 429 nobody could explain. Clients already blocked here stay blocked.
 */
export class AuthFailureThrottle {
  private readonly blocked = new Map<string, number>();
  private lastWarning = 0;

  constructor(private readonly options: AuthFailureThrottleOptions) {}

  /** Milliseconds `client` must still wait as far as this replica knows; 0 when not blocked. */
  blockedFor(client: string): number {
    const until = this.blocked.get(client);
    if (until === undefined) return 0;
    const left = until - Date.now();
    if (left > 0) return left;
    this.blocked.delete(client);
    return 0;
  }

  /** Counts one failure of `client`; the milliseconds it must wait when this one is over the limit, else 0. */
  async recordFailure(client: string): Promise<number> {
    let count: number;
    let ttl: number;
    try {
      [count, ttl] = (await this.options.redis.eval(RECORD_FAILURE, 1, `${this.options.prefix}:auth:failures:${client}`, String(this.options.windowMs))) as [number, number];
    } catch (err) {
      if (Date.now() - this.lastWarning > 10_000) {
        this.lastWarning = Date.now();
        this.options.logger?.warn({ err: (err as Error).message }, 'auth failures not counted: Redis unavailable (fail open: wrong keys get 401, unthrottled)');
      }
      return 0;
    }
    if (count <= this.options.limit) return 0;
    const wait = Math.max(1, ttl);
    this.blocked.delete(client);
    if (this.blocked.size >= (this.options.maxBlocked ?? 10_000)) this.blocked.delete(this.blocked.keys().next().value!);
    this.blocked.set(client, Date.now() + wait);
    return wait;
  }
}
