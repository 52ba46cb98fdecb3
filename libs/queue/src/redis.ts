import { Redis, type RedisOptions } from 'ioredis';

export { Redis };

/**
 * A Redis connection. BullMQ workers need `maxRetriesPerRequest: null` (a blocking command must
 * not fail after N retries); producers use the same so an enqueue during a Redis blip waits
 * for the reconnect instead of throwing, bounded by the caller's own timeout.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false, ...options });
}

/** A connection for short request/response use (the cache, counters): fails fast when Redis is down. */
export function createFastRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, commandTimeout: 2000, ...options });
}
