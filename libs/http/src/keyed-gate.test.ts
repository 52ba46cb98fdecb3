import { AppError } from '@qv/contracts';
import { KeyedGate } from './keyed-gate';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('KeyedGate', () => {
  it('runs at most maxActive calls of one key, the next ones in arrival order', async () => {
    const gate = new KeyedGate({ maxActive: 2, maxQueued: 10, maxWaitMs: 5000 });
    const order: number[] = [];
    const blockers = [deferred(), deferred(), deferred(), deferred()];
    const runs = blockers.map((b, i) => gate.run('u', async () => { order.push(i); await b.promise; return i; }));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([0, 1]);
    expect(gate.load('u')).toEqual({ active: 2, waiting: 2 });
    blockers[1].resolve();
    await runs[1];
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([0, 1, 2]);
    blockers.forEach((b) => b.resolve());
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect(gate.load('u')).toEqual({ active: 0, waiting: 0 });
  });

  it('never makes another key wait behind a full line', async () => {
    const gate = new KeyedGate({ maxActive: 1, maxQueued: 1, maxWaitMs: 5000 });
    const hold = deferred();
    const a = gate.run('a', () => hold.promise);
    const queued = gate.run('a', async () => 'second');
    expect(await gate.run('b', async () => 'b ran')).toBe('b ran');
    hold.resolve();
    await a;
    expect(await queued).toBe('second');
  });

  it('refuses with 429 USER_REQUEST_RATE_EXCEEDED past maxQueued, at once', async () => {
    const gate = new KeyedGate({ maxActive: 1, maxQueued: 1, maxWaitMs: 5000 });
    const hold = deferred();
    const a = gate.run('u', () => hold.promise);
    const b = gate.run('u', async () => undefined);
    const refused = await gate.run('u', async () => 'ran').catch((err: AppError) => err);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe('USER_REQUEST_RATE_EXCEEDED');
    expect((refused as AppError).retryAfterSeconds).toBe(1);
    hold.resolve();
    await Promise.all([a, b]);
  });

  it('refuses a call that waited maxWaitMs, and frees its place', async () => {
    const gate = new KeyedGate({ maxActive: 1, maxQueued: 5, maxWaitMs: 20 });
    const hold = deferred();
    const a = gate.run('u', () => hold.promise);
    const late = await gate.run('u', async () => 'ran').catch((err: AppError) => err.code);
    expect(late).toBe('USER_REQUEST_RATE_EXCEEDED');
    expect(gate.load('u')).toEqual({ active: 1, waiting: 0 });
    hold.resolve();
    await a;
    expect(gate.load('u')).toEqual({ active: 0, waiting: 0 });
  });

  it('a failing call frees its slot', async () => {
    const gate = new KeyedGate({ maxActive: 1, maxQueued: 1, maxWaitMs: 1000 });
    await expect(gate.run('u', async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await gate.run('u', async () => 'next')).toBe('next');
  });

  it('says when a call would be refused at once: only when the key\'s line is full', async () => {
    const gate = new KeyedGate({ maxActive: 1, maxQueued: 1, maxWaitMs: 5000 });
    const hold = deferred();
    expect(gate.refusesAtOnce('u')).toBe(false);
    const running = gate.run('u', () => hold.promise);
    expect(gate.refusesAtOnce('u')).toBe(false);
    const waiting = gate.run('u', async () => undefined);
    expect([gate.refusesAtOnce('u'), gate.refusesAtOnce('v')]).toEqual([true, false]);
    await expect(gate.run('u', async () => undefined)).rejects.toMatchObject({ code: 'USER_REQUEST_RATE_EXCEEDED' });
    hold.resolve();
    await Promise.all([running, waiting]);
    expect(gate.refusesAtOnce('u')).toBe(false);
    expect(gate.load('u')).toEqual({ active: 0, waiting: 0 });
  });

  it('hands a slot on at the next turn of the event loop, so a line of refusals never runs as one long task', async () => {
    const gate = new KeyedGate({ maxActive: 1, maxQueued: 100, maxWaitMs: 5000 });
    const hold = deferred();
    const first = gate.run('u', () => hold.promise);
    const rest = Array.from({ length: 50 }, () => gate.run('u', async () => Promise.reject(new Error('refused'))).catch(() => 'refused'));
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    hold.resolve();
    await first;
    expect(await Promise.all(rest)).toEqual(Array(50).fill('refused'));
    ticking = false;
    // Handed over in one chain of microtasks, all fifty would end within one turn.
    expect(turns).toBeGreaterThanOrEqual(50);
    expect(gate.load('u')).toEqual({ active: 0, waiting: 0 });
  });
});
