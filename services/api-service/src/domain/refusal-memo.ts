import { AppError, type ErrorCode } from '@qv/contracts';

/**
 * Refusals that every further charge of the same user meets until time passes: each charge counts
 * one call and one enrichment, whatever its size. Token refusals depend on the item's estimate (a
 * smaller one may pass) and a concurrency refusal ends when any job finishes: neither is kept.
 */
const KEPT: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['DAILY_QUOTA_EXCEEDED', 'HOURLY_RATE_LIMIT_EXCEEDED']);

interface Kept {
  error: AppError;
  until: number;
}

/**
 * The last count refusal of each user, kept for a moment (QUOTA_REFUSAL_MEMO_MS, never past its own
 * Retry-After) so that a user hammering an exhausted limit is refused here instead of by a charge
 * in quota-service and PostgreSQL: a refusal of an exhausted limit must cost far less than a
 * charge. Only ever refuses more, never accepts: the limits stay exact. What it can cost is a
 * refusal up to that long after a slot came back (a failed item released, the rolling hour moved);
 * an operator's change of the user's limits on this replica forgets the user at once.
 * Per replica and bounded: an entry is dropped when read past its time, and the map is swept when
 * it outgrows `maxUsers`.
 */
export class RefusalMemo {
  private readonly kept = new Map<string, Kept>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxUsers = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Keeps `err` for `userId` when it is a count refusal. */
  remember(userId: string, err: unknown): void {
    if (this.ttlMs <= 0 || !(err instanceof AppError) || !KEPT.has(err.code)) return;
    const retryAfterMs = (err.retryAfterSeconds ?? 0) * 1000;
    const until = this.now() + Math.min(this.ttlMs, retryAfterMs);
    if (until <= this.now()) return;
    if (this.kept.size >= this.maxUsers) this.sweep();
    this.kept.set(userId, { error: err, until });
  }

  /** The refusal this user's next charge would meet, or undefined. */
  recall(userId: string): AppError | undefined {
    const kept = this.kept.get(userId);
    if (!kept) return undefined;
    if (kept.until > this.now()) return kept.error;
    this.kept.delete(userId);
    return undefined;
  }

  forget(userId: string): void {
    this.kept.delete(userId);
  }

  forgetAll(): void {
    this.kept.clear();
  }

  private sweep(): void {
    const now = this.now();
    for (const [userId, kept] of this.kept) if (kept.until <= now) this.kept.delete(userId);
    // Still full: every entry is live; the oldest insertions go first.
    for (const userId of this.kept.keys()) {
      if (this.kept.size < this.maxUsers) break;
      this.kept.delete(userId);
    }
  }
}
