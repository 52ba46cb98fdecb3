import { ProviderBreaker, type BreakerPolicy, type CallOutcome, type StateChange } from './provider-breaker';

const POLICY: BreakerPolicy = {
  windowMs: 20_000,
  minFailures: 5,
  minItems: 3,
  minUsers: 2,
  failureRatio: 0.5,
  halfOpenAfterMs: 10_000,
  probeWaitMs: 500,
  probeLeaseMs: 60_000,
  windowItems: 10,
};

function setup(policy: Partial<BreakerPolicy> = {}) {
  let now = 1_000_000;
  const changes: StateChange[] = [];
  const breaker = new ProviderBreaker({ ...POLICY, ...policy }, { now: () => now, onStateChange: (c) => changes.push(c) });
  /** One call for item/user that ends with `outcome`; returns whether it was admitted. */
  const call = (itemId: string, userId: string, outcome: CallOutcome, retry = false): boolean => {
    const admission = breaker.admit({ itemId, userId, retry });
    if (!admission.allowed) return false;
    breaker.record(admission.ticket, outcome);
    return true;
  };
  return {
    breaker,
    changes,
    call,
    advance: (ms: number) => (now += ms),
    /** Opens the circuit with an outage seen by three items of two users. */
    outage: () => {
      for (const [item, user] of [['i1', 'u1'], ['i2', 'u1'], ['i3', 'u2'], ['i1', 'u1'], ['i2', 'u1']] as const) call(item, user, 'failure');
      expect(breaker.currentState).toBe('open');
    },
  };
}

describe('ProviderBreaker: when the circuit opens', () => {
  it("never opens on one item's failures, however many", () => {
    const { breaker, call } = setup();
    for (let i = 0; i < 500; i++) expect(call('poison', 'a', 'failure')).toBe(true);
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', failedCalls: 500, items: 1, failingItems: 1, failingUsers: 1 });
  });

  it("never opens on one user's failing items, even when they are every call", () => {
    const { breaker, call } = setup();
    for (let round = 0; round < 5; round++) for (let i = 0; i < 8; i++) call(`a${i}`, 'a', 'failure');
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', failedCalls: 40, items: 8, failingItems: 8, failingUsers: 1 });
  });

  it('opens on failures from 3 items of 2 users once 5 calls failed, and not one call earlier', () => {
    const { breaker, call, changes } = setup();
    call('i1', 'u1', 'failure');
    call('i2', 'u1', 'failure');
    call('i3', 'u2', 'failure');
    call('i1', 'u1', 'failure');
    expect(breaker.currentState).toBe('closed'); // 4 failed calls < 5
    call('i2', 'u1', 'failure');
    expect(breaker.currentState).toBe('open');
    expect(changes).toEqual([{ from: 'closed', to: 'open', reason: '5 failed calls; 3 of the last 3 items failing, of 2 users' }]);
  });

  it('needs the third distinct item and the second distinct user', () => {
    const twoItems = setup();
    for (let i = 0; i < 10; i++) twoItems.call(i % 2 ? 'i1' : 'i2', i % 2 ? 'u1' : 'u2', 'failure');
    expect(twoItems.breaker.currentState).toBe('closed');
    const oneUser = setup();
    for (let i = 0; i < 10; i++) oneUser.call(`i${i % 5}`, 'u1', 'failure');
    expect(oneUser.breaker.currentState).toBe('closed');
    oneUser.call('other', 'u2', 'failure');
    expect(oneUser.breaker.currentState).toBe('open');
  });

  it('an outage right after a healthy spell shows within a few new items: the window is the last 10 items, not the last 20 s', () => {
    const { breaker, call } = setup();
    for (let i = 0; i < 30; i++) for (let task = 0; task < 3; task++) call(`ok${i}`, 'b', 'success');
    for (let i = 0; i < 4; i++) call(`f${i}`, `u${i % 2}`, 'failure');
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', items: 10, failingItems: 4 });
    call('f4', 'u0', 'failure'); // 5 of the last 10
    expect(breaker.currentState).toBe('open');
  });

  it("weighs an item once and keeps its place when it retries: two users' poison retries do not outvote the items after them", () => {
    const { breaker, call } = setup();
    call('pa', 'a', 'failure');
    call('pc', 'c', 'failure');
    call('pa2', 'a', 'failure');
    for (let i = 0; i < 7; i++) call(`ok${i}`, 'b', 'success');
    for (let attempt = 0; attempt < 5; attempt++) for (const [item, user] of [['pa', 'a'], ['pc', 'c'], ['pa2', 'a']]) call(item, user, 'failure');
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', failedCalls: 18, items: 10, failingItems: 3, failingUsers: 2 });
  });

  it("counts an item by its latest outcome: one that failed, then succeeded, is healthy", () => {
    const { breaker, call } = setup();
    call('f1', 'u1', 'failure');
    call('f2', 'u2', 'failure');
    call('f3', 'u1', 'failure');
    call('f1', 'u1', 'failure');
    call('f2', 'u2', 'success');
    call('f3', 'u1', 'success');
    expect(breaker.snapshot()).toMatchObject({ failedCalls: 4, items: 3, failingItems: 1, failingUsers: 1 });
    // Five failed calls from four items of two users: had f2 and f3 stayed failing, that would open it.
    call('f4', 'u2', 'failure');
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', failedCalls: 5, items: 4, failingItems: 2, failingUsers: 2 });
  });

  it('forgets failed calls, and items first called, more than the window ago; such an item calling again is a new one', () => {
    const { breaker, call, advance } = setup();
    call('i1', 'u1', 'failure');
    call('i2', 'u1', 'failure');
    call('i3', 'u2', 'failure');
    call('i1', 'u1', 'failure');
    advance(20_001);
    call('i2', 'u1', 'failure');
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', failedCalls: 1, items: 1, failingItems: 1 });
    // Four more within the window, from 3 items of 2 users: open.
    call('i3', 'u2', 'failure');
    call('i4', 'u2', 'failure');
    call('i2', 'u1', 'failure');
    expect(breaker.currentState).toBe('closed');
    call('i3', 'u2', 'failure');
    expect(breaker.currentState).toBe('open');
  });

  it('an item retrying after it left the window never comes back into it: poison retries cannot outvote healthy items', () => {
    const { breaker, call, advance } = setup();
    const poison = [['p1', 'u1'], ['p2', 'u1'], ['p3', 'u2'], ['p4', 'u2'], ['p5', 'u3']] as const;
    // Their first attempts among healthy items: 1 in 3 failing, never enough to open it.
    poison.forEach(([item, user], i) => {
      call(`before${i}a`, `h${i}`, 'success');
      call(`before${i}b`, `h${i}`, 'success');
      call(item, user, 'failure');
    });
    for (let i = 0; i < 10; i++) call(`ok${i}`, `h${i}`, 'success');
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', failingItems: 0 });
    // Their retries, each a few times: as new entries they would be 5 failing of the last 10 items.
    for (let round = 0; round < 3; round++) {
      advance(1_000);
      for (const [item, user] of poison) call(item, user, 'failure', true);
    }
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', items: 10, failingItems: 0 });
  });

  it('a retry still in the window updates its entry: a flaky item that then succeeds is healthy', () => {
    const { breaker, call } = setup();
    call('flaky', 'u1', 'failure');
    expect(breaker.snapshot()).toMatchObject({ items: 1, failingItems: 1 });
    call('flaky', 'u1', 'success', true);
    expect(breaker.snapshot()).toMatchObject({ items: 1, failingItems: 0 });
  });

  it('counts neither a 429 nor our own faults (neutral); a 4xx is an answer (success)', () => {
    const { breaker, call } = setup();
    for (let i = 0; i < 20; i++) call(`i${i}`, `u${i % 3}`, 'neutral');
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', failedCalls: 0, items: 0 });
    for (let i = 0; i < 20; i++) call(`ok${i}`, 'b', 'success');
    for (let i = 0; i < 10; i++) call(`f${i % 4}`, `u${i % 2}`, 'failure');
    // 4 failing of the last 10 items: not the provider.
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', failedCalls: 10, items: 10, failingItems: 4 });
  });
});

describe('ProviderBreaker: open and half-open', () => {
  it('refuses every call while open, with the time left until a trial', () => {
    const { breaker, outage, advance } = setup();
    outage();
    expect(breaker.admit({ itemId: 'i9', userId: 'u9' })).toEqual({ allowed: false, state: 'open', retryAfterMs: 10_000 });
    advance(9_000);
    expect(breaker.admit({ itemId: 'i9', userId: 'u9' })).toEqual({ allowed: false, state: 'open', retryAfterMs: 1_000 });
  });

  it('lets one trial through at a time when half-open; its success closes the circuit and empties the window', () => {
    const { breaker, outage, advance, changes } = setup();
    outage();
    advance(10_000);
    const trial = breaker.admit({ itemId: 'i7', userId: 'u7' });
    expect(trial).toMatchObject({ allowed: true, ticket: { probe: true } });
    expect(breaker.admit({ itemId: 'i8', userId: 'u8' })).toEqual({ allowed: false, state: 'half_open', retryAfterMs: 500 });
    if (!trial.allowed) throw new Error('unreachable');
    breaker.record(trial.ticket, 'success');
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', items: 0, failedCalls: 0 });
    expect(changes.map((c) => c.to)).toEqual(['open', 'half_open', 'closed']);
  });

  it('reopens when trials of two distinct items fail in one spell, and a continuing outage keeps it open spell after spell', () => {
    const { breaker, outage, advance, call } = setup();
    outage();
    for (const [first, second] of [['i4', 'i5'], ['i6', 'i4'], ['i5', 'i6']]) {
      advance(10_000);
      expect(call(first, 'u1', 'failure')).toBe(true);
      expect(breaker.currentState).toBe('half_open');
      expect(call(second, 'u2', 'failure')).toBe(true);
      expect(breaker.currentState).toBe('open');
    }
    expect(breaker.admit({ itemId: 'i7', userId: 'u4' })).toMatchObject({ allowed: false, retryAfterMs: 10_000 });
  });

  it('one item failing its trials, however often, leaves it half-open: the next item\'s trial decides', () => {
    const { breaker, outage, advance, call } = setup();
    outage();
    advance(10_000);
    for (let i = 0; i < 4; i++) {
      call('poison', 'a', 'failure', i > 0);
      expect(breaker.currentState).toBe('half_open');
    }
    call('ordinary', 'b', 'success');
    expect(breaker.currentState).toBe('closed');
  });

  it('items already failing before the circuit opened (retries) do not reopen it alone: one ordinary trial closes it', () => {
    const { breaker, outage, advance, call } = setup();
    outage(); // i1, i2, i3 failing
    advance(10_000);
    call('i1', 'u1', 'failure', true);
    expect(breaker.currentState).toBe('half_open');
    call('fresh', 'u3', 'success');
    expect(breaker.currentState).toBe('closed');
  });

  it('a trial that reports nothing about the provider (a 429) leaves it half-open for the next', () => {
    const { breaker, outage, advance, call } = setup();
    outage();
    advance(10_000);
    call('i1', 'u1', 'neutral');
    expect(breaker.currentState).toBe('half_open');
    expect(call('i2', 'u2', 'success')).toBe(true);
    expect(breaker.currentState).toBe('closed');
  });

  it('a trial that never reports stops blocking the next after its lease', () => {
    const { breaker, outage, advance } = setup({ probeLeaseMs: 30_000 });
    outage();
    advance(10_000);
    const lost = breaker.admit({ itemId: 'i1', userId: 'u1' });
    expect(lost.allowed).toBe(true);
    advance(29_999);
    expect(breaker.admit({ itemId: 'i2', userId: 'u2' }).allowed).toBe(false);
    advance(1);
    const next = breaker.admit({ itemId: 'i2', userId: 'u2' });
    expect(next).toMatchObject({ allowed: true, ticket: { probe: true } });
    // The lost trial's late failure changes nothing; the live one decides.
    if (!lost.allowed || !next.allowed) throw new Error('unreachable');
    breaker.record(lost.ticket, 'failure');
    expect(breaker.currentState).toBe('half_open');
    breaker.record(next.ticket, 'success');
    expect(breaker.currentState).toBe('closed');
  });

  it('calls admitted before the circuit opened report into the window without changing its state', () => {
    const { breaker, call } = setup();
    const straggler = breaker.admit({ itemId: 'slow', userId: 'u3' });
    for (const [item, user] of [['i1', 'u1'], ['i2', 'u1'], ['i3', 'u2'], ['i1', 'u1'], ['i2', 'u1']] as const) call(item, user, 'failure');
    expect(breaker.currentState).toBe('open');
    if (!straggler.allowed) throw new Error('unreachable');
    breaker.record(straggler.ticket, 'success');
    expect(breaker.currentState).toBe('open');
  });

  it('after closing, the old failures are gone: a new outage must show itself afresh', () => {
    const { breaker, outage, advance, call } = setup();
    outage();
    advance(10_000);
    call('i9', 'u9', 'success');
    expect(breaker.currentState).toBe('closed');
    call('i1', 'u1', 'failure');
    call('i3', 'u2', 'failure');
    call('i4', 'u2', 'failure');
    call('i1', 'u1', 'failure');
    expect(breaker.currentState).toBe('closed');
  });
});
