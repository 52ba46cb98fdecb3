import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AuthEviction, AuthEvictionPublisher } from './auth.repository';

/** The pub/sub channel of auth evictions, under REDIS_PREFIX like every other key. */
export const authEvictionChannel = (prefix: string): string => `${prefix}:auth:evictions`;

export interface AuthEvictionHandlers {
  /** Another replica (or this one) revoked, issued or changed something: forget it. */
  evict: (eviction: AuthEviction) => void;
  /** The subscription was broken and is back: messages may have been missed, forget everything. */
  evictAll: () => void;
}

/**
 * Auth evictions over Redis pub/sub: `publish` on the shared connection, and `subscribe` on a
 * connection of its own (a subscribed connection can do nothing else) created with
 * `autoResubscribe: false`, so this class resubscribes itself after a reconnection and forgets
 * everything only once the subscription is back — an eviction published before that is covered by
 * the forgetting, one published after is received.
 */
export class RedisAuthEvictions implements AuthEvictionPublisher {
  constructor(private readonly deps: { publisher: Redis; channel: string; logger?: Pick<Logger, 'warn' | 'info'> }) {}

  async publish(eviction: AuthEviction): Promise<void> {
    await this.deps.publisher.publish(this.deps.channel, JSON.stringify(eviction));
  }

  /**
   * Listens on `subscriber`; resolves once first subscribed. Every (re)subscription forgets
   * everything first (`evictAll`). Do not wait on it for ever: while Redis is down this replica
   * still serves, its cache bounded by AUTH_CACHE_TTL_MS.
   */
  subscribe(subscriber: Redis, handlers: AuthEvictionHandlers): Promise<void> {
    const { channel, logger } = this.deps;
    subscriber.on('message', (from: string, message: string) => {
      if (from !== channel) return;
      const eviction = parseEviction(message);
      if (eviction) handlers.evict(eviction);
      else logger?.warn({ message: message.slice(0, 200) }, 'ignored a malformed auth eviction');
    });
    let subscribedOnce = false;
    return new Promise((resolve) => {
      const subscribe = () => {
        subscriber.subscribe(channel).then(
          () => {
            // Also the first time: a replica that started serving before it could subscribe has
            // cached keys whose evictions it may have missed.
            handlers.evictAll();
            if (subscribedOnce) logger?.info({ channel }, 'auth evictions resubscribed: principal cache cleared');
            subscribedOnce = true;
            resolve();
          },
          (err: Error) => logger?.warn({ err: err.message, channel }, 'auth evictions: subscribe failed (the cache TTL bounds revocations meanwhile)'),
        );
      };
      subscriber.on('ready', subscribe);
      if (subscriber.status === 'ready') subscribe();
    });
  }
}

function parseEviction(message: string): AuthEviction | undefined {
  try {
    const value = JSON.parse(message) as Record<string, unknown>;
    if (typeof value?.keyHash === 'string' && /^[0-9a-f]{64}$/.test(value.keyHash)) return { keyHash: value.keyHash };
    if (typeof value?.userId === 'string' && value.userId.length > 0) return { userId: value.userId };
  } catch {
    // not JSON
  }
  return undefined;
}
