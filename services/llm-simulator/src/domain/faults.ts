import { createHash } from 'node:crypto';
import type { Directives, SimulatedStatus } from './directives';

/** A failure the simulator answers with instead of a completion. */
export interface Fault {
  status: SimulatedStatus;
  message: string;
  retryAfterSeconds?: number;
}

/**
 * Decides which calls fail. Checked in this order: `status` (always fails), `fail_first` (the first
 * N calls with the same user content fail with 500, or with `fail_first_status`), `fail_nth` (only
 * the Nth such call fails, with 500: one task of an item's several, say), `fail_until` (503 until
 * that epoch ms).
 * The `fail_first` counters live in this process: one simulator is one fault domain.
 */
export class FaultInjector {
  private readonly seen = new Map<string, number>();
  private readonly cutSeen = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  decide(userContent: string, directives: Directives): Fault | undefined {
    if (directives.status !== undefined) return this.fault(directives.status, directives, `Simulated ${directives.status}`);
    if (directives.failFirst !== undefined || directives.failNth !== undefined) {
      const count = countCall(this.seen, userContent);
      if (directives.failFirst !== undefined && count <= directives.failFirst) return this.fault(directives.failFirstStatus ?? 500, directives, `Simulated failure ${count} of ${directives.failFirst}`);
      if (count === directives.failNth) return this.fault(500, directives, `Simulated failure of call ${count}`);
    }
    if (directives.failUntil !== undefined) {
      const left = directives.failUntil - this.now();
      if (left > 0) return { status: 503, retryAfterSeconds: Math.ceil(left / 1000), message: `Simulated outage until ${new Date(directives.failUntil).toISOString()}` };
    }
    return undefined;
  }

  /** `cut_first`: whether this call's answer is cut at its max tokens (counted per user content, apart from the failures). */
  cutsAnswer(userContent: string, directives: Directives): boolean {
    if (directives.cutFirst === undefined) return false;
    return countCall(this.cutSeen, userContent) <= directives.cutFirst;
  }

  private fault(status: SimulatedStatus, directives: Directives, message: string): Fault {
    if (status !== 429) return { status, message };
    const retryAfterSeconds = directives.retryAfterSeconds ?? 1;
    return { status, retryAfterSeconds, message: `Rate limit reached (simulated); retry after ${retryAfterSeconds} s` };
  }

  reset(): void {
    this.seen.clear();
    this.cutSeen.clear();
  }
}

/** This call's number among the calls with the same user content that `seen` counted (from 1). */
function countCall(seen: Map<string, number>, userContent: string): number {
  const key = createHash('sha256').update(userContent).digest('hex');
  const count = (seen.get(key) ?? 0) + 1;
  seen.set(key, count);
  return count;
}
