import { createHash } from 'node:crypto';
import type { Directives } from './directives';

/** A failure the simulator answers with instead of a completion. */
export interface Fault {
  status: 429 | 500 | 503;
  message: string;
  retryAfterSeconds?: number;
}

/**
 * Decides which calls fail. Checked in this order: `status` (always fails), `fail_first` (the first
 * N calls with the same user content fail with 500), `fail_until` (503 until that epoch ms).
 * The `fail_first` counters live in this process: one simulator is one fault domain.
 */
export class FaultInjector {
  private readonly seen = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  decide(userContent: string, directives: Directives): Fault | undefined {
    if (directives.status === 429) {
      const retryAfterSeconds = directives.retryAfterSeconds ?? 1;
      return { status: 429, retryAfterSeconds, message: `Rate limit reached (simulated); retry after ${retryAfterSeconds} s` };
    }
    if (directives.status !== undefined) return { status: directives.status, message: `Simulated ${directives.status}` };
    if (directives.failFirst !== undefined) {
      const key = createHash('sha256').update(userContent).digest('hex');
      const count = (this.seen.get(key) ?? 0) + 1;
      this.seen.set(key, count);
      if (count <= directives.failFirst) return { status: 500, message: `Simulated failure ${count} of ${directives.failFirst}` };
    }
    if (directives.failUntil !== undefined) {
      const left = directives.failUntil - this.now();
      if (left > 0) return { status: 503, retryAfterSeconds: Math.ceil(left / 1000), message: `Simulated outage until ${new Date(directives.failUntil).toISOString()}` };
    }
    return undefined;
  }

  reset(): void {
    this.seen.clear();
  }
}
