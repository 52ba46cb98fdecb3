import type { Redis } from 'ioredis';

/** A registered wait on one entry key; `wait` resolves on an announcement for it, after `ms`, or on close. */
export interface EntryWaiter {
  wait(ms: number): Promise<void>;
  cancel(): void;
}

/**
 * Lookups waiting on a single-flight holder, woken through Redis pub/sub. One subscription per
 * process on one channel (the message is the entry key), fanned out here to the local waiters,
 * rather than a SUBSCRIBE per waiting key: waiting costs no Redis round trip of its own.
 * A waiter registers before it re-checks the entry, so an announcement between its check and its
 * wait is not lost.
 */
export class EntryEvents {
  private readonly waiters = new Map<string, Set<() => void>>();
  private closed = false;

  get isClosed(): boolean {
    return this.closed;
  }

  constructor(
    private readonly subscriber: Redis | null,
    private readonly channel: string,
  ) {
    this.closed = subscriber === null;
  }

  /**
   * No events: for a process that only reads and writes entries (api-service's chat path). A
   * lookup there never waits for another holder: it answers as on shutdown.
   */
  static none(): EntryEvents {
    return new EntryEvents(null, '');
  }

  async start(): Promise<void> {
    if (!this.subscriber) return;
    this.subscriber.on('message', (channel: string, entryKey: string) => {
      if (channel === this.channel) this.wake(entryKey);
    });
    await this.subscriber.subscribe(this.channel);
  }

  /** How many lookups of this process are waiting right now. */
  get waiting(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  register(entryKey: string): EntryWaiter {
    let notified = this.closed;
    let notify: () => void = () => undefined;
    const listener = () => {
      notified = true;
      notify();
    };
    let set = this.waiters.get(entryKey);
    if (!set) this.waiters.set(entryKey, (set = new Set()));
    set.add(listener);
    const cancel = () => {
      const current = this.waiters.get(entryKey);
      current?.delete(listener);
      if (current?.size === 0) this.waiters.delete(entryKey);
    };
    return {
      cancel,
      wait: (ms) =>
        new Promise<void>((resolve) => {
          if (notified) return resolve();
          const timer = setTimeout(resolve, Math.max(0, ms));
          notify = () => {
            clearTimeout(timer);
            resolve();
          };
        }),
    };
  }

  /** Ends every wait (shutdown), so in-flight lookups answer and the HTTP server can drain. */
  async close(): Promise<void> {
    this.closed = true;
    for (const key of [...this.waiters.keys()]) this.wake(key);
    await this.subscriber?.quit().catch(() => undefined);
  }

  private wake(entryKey: string): void {
    const set = this.waiters.get(entryKey);
    if (!set) return;
    for (const listener of [...set]) listener();
  }
}
