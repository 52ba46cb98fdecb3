/**
 * The provider's circuit breaker, as rules over a sliding window of calls (no I/O, clock injected).
 *
 * It guards the provider, not a tenant (DESIGN.md §5): a provider that fails for one input is not
 * a provider outage. The circuit opens only when recent calls show a fault of the provider
 * itself, all at once:
 * - at least `minFailures` failed calls in the last `windowMs`;
 * - among the last `windowItems` distinct items called (in the order of their first call, none
 *   first called more than `windowMs` ago), each weighed once by its latest outcome: at least
 *   `minItems` failing, of at least `minUsers` distinct users, and at least `failureRatio` of them.
 * One item's repeated failures never open it: they burn that item's attempts, as they should. An
 * item weighs once however often it retries, and keeps its place in line, so retrying items
 * cannot outvote the items that come after them and succeed; the window is of items, not time,
 * so an outage that starts after a healthy spell shows within a few new items instead of waiting
 * for the healthy calls to age out (while the first failing items burn their attempts).
 *
 * An item's retries (a job's later attempts, a synchronous call's second try) update its entry while
 * it is in the window but never add one: an item failing on its own input that retries past its
 * window would otherwise come back as a new failing item each time, and a few such items would
 * outvote the healthy ones around them (with one item in six failing on its own input, three
 * workers' circuits kept the queue held most of the time). The provider's health is read from
 * items' first attempts, which an outage fails as surely as any retry.
 *
 * Open: every call is refused (`retryAfterMs` until it half-opens), so an outage costs no calls
 * and no attempts. Half-open: one trial call at a time; the others are refused for
 * `probeWaitMs`. A successful trial closes the circuit (and empties the window). A failed trial
 * reopens it only when another item's trial failed in the same half-open spell: one item failing
 * may be its own fault (a poison item first in line), two distinct items failing one after the
 * other, with no success between, is the provider. So a continuing outage keeps it open at the
 * cost of two calls per spell, while an item failing on its own input cannot keep the queue held.
 */
export interface BreakerPolicy {
  /** How far back failed calls count, and the oldest first call an item in the window may have (ms). */
  windowMs: number;
  /** How many distinct items the window holds (the most recent, by first call). */
  windowItems: number;
  /** Failed calls in the last `windowMs`, at least, before it may open. */
  minFailures: number;
  /** Failing items in the window, at least. */
  minItems: number;
  /** Distinct users of the failing items in the window, at least. */
  minUsers: number;
  /** Failing items / items in the window, at least (0..1). */
  failureRatio: number;
  /** How long the circuit stays open before a trial call is let through (ms). */
  halfOpenAfterMs: number;
  /** How long a call refused while a trial is in flight waits before asking again (ms). */
  probeWaitMs: number;
  /** A trial call that has not reported after this long no longer blocks the next (ms). */
  probeLeaseMs: number;
}

export type CircuitState = 'closed' | 'open' | 'half_open';
export type CallOutcome = 'success' | 'failure' | 'neutral';

/** Who a provider call is for: the fault domains the breaker tells apart. */
export interface CallOrigin {
  itemId: string;
  userId: string;
  /** A later attempt of an item that already failed once: it updates the item's entry, never adds one. */
  retry?: boolean;
}

/** An admitted call, handed back with its outcome. */
export interface CallTicket {
  readonly origin: CallOrigin;
  readonly probe: boolean;
  readonly episode: number;
}

export type Admission = { allowed: true; ticket: CallTicket } | { allowed: false; state: Exclude<CircuitState, 'closed'>; retryAfterMs: number };

export interface StateChange {
  from: CircuitState;
  to: CircuitState;
  /** Why, for the log: the window's figures on opening, the trial's item otherwise. */
  reason: string;
}

interface WindowItem {
  firstAt: number;
  userId: string;
  /** Its latest outcome. */
  failed: boolean;
}

const increment = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
const decrement = (map: Map<string, number>, key: string) => {
  const n = (map.get(key) ?? 0) - 1;
  if (n > 0) map.set(key, n);
  else map.delete(key);
};

export class ProviderBreaker {
  private state: CircuitState = 'closed';
  private openedAt = 0;
  /** Counts the times the circuit opened from closed; a ticket from an earlier episode changes nothing. */
  private episode = 0;
  private probe: { itemId: string; since: number } | null = null;
  /** Items whose trial failed in the current half-open spell. */
  private readonly spellFailures = new Set<string>();

  /** The window's items, in the order of their first call (a Map keeps insertion order). */
  private readonly items = new Map<string, WindowItem>();
  private failingItems = 0;
  private readonly failingByUser = new Map<string, number>();
  /** Times of the failed calls of the last windowMs (from `failuresHead` on). */
  private readonly failures: number[] = [];
  private failuresHead = 0;

  constructor(
    private readonly policy: BreakerPolicy,
    private readonly options: { now?: () => number; onStateChange?: (change: StateChange) => void } = {},
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** The state as of now (an open circuit whose delay has passed reads half-open). */
  get currentState(): CircuitState {
    if (this.state === 'open' && this.now() >= this.openedAt + this.policy.halfOpenAfterMs) return 'half_open';
    return this.state;
  }

  /** The window's figures, for logs and tests. */
  snapshot(): { state: CircuitState; failedCalls: number; items: number; failingItems: number; failingUsers: number } {
    this.prune(this.now());
    return {
      state: this.currentState,
      failedCalls: this.failures.length - this.failuresHead,
      items: this.items.size,
      failingItems: this.failingItems,
      failingUsers: this.failingByUser.size,
    };
  }

  /** Asks to call the provider for `origin`: a ticket to report the outcome with, or how long to wait. */
  admit(origin: CallOrigin): Admission {
    const now = this.now();
    if (this.state === 'closed') return { allowed: true, ticket: { origin, probe: false, episode: this.episode } };
    if (this.state === 'open') {
      const wait = this.openedAt + this.policy.halfOpenAfterMs - now;
      if (wait > 0) return { allowed: false, state: 'open', retryAfterMs: wait };
      this.spellFailures.clear();
      this.transition('half_open', `${this.policy.halfOpenAfterMs} ms open: trying one call`);
    }
    if (this.probe && now - this.probe.since < this.policy.probeLeaseMs) {
      return { allowed: false, state: 'half_open', retryAfterMs: this.policy.probeWaitMs };
    }
    this.probe = { itemId: origin.itemId, since: now };
    return { allowed: true, ticket: { origin, probe: true, episode: this.episode } };
  }

  /**
   * Reports an admitted call's outcome. `failure`: a fault of the provider (5xx, timeout, network);
   * `success`: the provider answered (a 4xx is the request's fault, not the provider's);
   * `neutral`: tells nothing about the provider's health (a 429, a fault of our own).
   */
  record(ticket: CallTicket, outcome: CallOutcome): void {
    const now = this.now();
    // Pruned first, so an item whose first call left the window comes back as a new one.
    this.prune(now);
    if (outcome !== 'neutral') this.push(now, ticket.origin, outcome === 'failure');
    this.prune(now);

    if (ticket.probe) {
      // Only the trial of the current spell decides; one that outlived its lease or its episode reports into the window alone.
      if (this.state !== 'half_open' || ticket.episode !== this.episode || this.probe?.itemId !== ticket.origin.itemId) return;
      this.probe = null;
      if (outcome === 'success') return this.close(`trial call for ${ticket.origin.itemId} succeeded`);
      if (outcome === 'neutral') return;
      const item = ticket.origin.itemId;
      const others = [...this.spellFailures].filter((other) => other !== item);
      this.spellFailures.add(item);
      if (others.length > 0) this.open(now, `trial calls for ${item} and ${others[0]} failed`);
      return;
    }

    if (this.state === 'closed' && outcome === 'failure' && this.providerWideFault()) {
      const failedCalls = this.failures.length - this.failuresHead;
      this.open(now, `${failedCalls} failed calls; ${this.failingItems} of the last ${this.items.size} items failing, of ${this.failingByUser.size} users`);
    }
  }

  private providerWideFault(): boolean {
    const p = this.policy;
    return (
      this.failures.length - this.failuresHead >= p.minFailures &&
      this.failingItems >= p.minItems &&
      this.failingByUser.size >= p.minUsers &&
      this.failingItems >= p.failureRatio * this.items.size
    );
  }

  private open(now: number, reason: string): void {
    if (this.state === 'closed') this.episode++;
    this.openedAt = now;
    this.probe = null;
    this.transition('open', reason);
  }

  private close(reason: string): void {
    this.items.clear();
    this.failingItems = 0;
    this.failingByUser.clear();
    this.failures.length = 0;
    this.failuresHead = 0;
    this.spellFailures.clear();
    this.transition('closed', reason);
  }

  private transition(to: CircuitState, reason: string): void {
    const from = this.state;
    this.state = to;
    if (from !== to) this.options.onStateChange?.({ from, to, reason });
  }

  private push(now: number, origin: CallOrigin, failed: boolean): void {
    if (failed) this.failures.push(now);
    const known = this.items.get(origin.itemId);
    if (known) {
      if (known.failed !== failed) this.setFailing(known, failed);
      return; // keeps its place: a retry is not a new item
    }
    if (origin.retry) return; // it had its say on its first attempt
    const item: WindowItem = { firstAt: now, userId: origin.userId, failed: false };
    this.items.set(origin.itemId, item);
    if (failed) this.setFailing(item, true);
  }

  private setFailing(item: WindowItem, failed: boolean): void {
    item.failed = failed;
    if (failed) {
      this.failingItems++;
      increment(this.failingByUser, item.userId);
    } else {
      this.failingItems--;
      decrement(this.failingByUser, item.userId);
    }
  }

  private prune(now: number): void {
    const cutoff = now - this.policy.windowMs;
    for (const [id, item] of this.items) {
      if (this.items.size <= this.policy.windowItems && item.firstAt > cutoff) break;
      if (item.failed) this.setFailing(item, false);
      this.items.delete(id);
    }
    while (this.failuresHead < this.failures.length && this.failures[this.failuresHead] <= cutoff) this.failuresHead++;
    // Compact once the dead prefix dominates, so the array does not grow without bound.
    if (this.failuresHead > 1024 && this.failuresHead * 2 > this.failures.length) {
      this.failures.splice(0, this.failuresHead);
      this.failuresHead = 0;
    }
  }
}
