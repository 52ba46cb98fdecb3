import { AppError } from '@qv/contracts';
import { RefusalMemo } from './refusal-memo';

const refusal = (code: 'DAILY_QUOTA_EXCEEDED' | 'HOURLY_RATE_LIMIT_EXCEEDED' | 'DAILY_TOKEN_QUOTA_EXCEEDED' | 'CONCURRENCY_LIMIT_EXCEEDED', retryAfterSeconds: number) =>
  new AppError(code, 'refused', { retryAfterSeconds });

describe('RefusalMemo', () => {
  let now = 1_000_000;
  const clock = () => now;
  beforeEach(() => (now = 1_000_000));

  it('keeps a count refusal for its time, then forgets it', () => {
    const memo = new RefusalMemo(1000, 10, clock);
    const err = refusal('DAILY_QUOTA_EXCEEDED', 3600);
    memo.remember('u1', err);
    expect(memo.recall('u1')).toBe(err);
    expect(memo.recall('u2')).toBeUndefined();
    now += 999;
    expect(memo.recall('u1')).toBe(err);
    now += 1;
    expect(memo.recall('u1')).toBeUndefined();
  });

  it('never keeps a refusal past its own Retry-After', () => {
    const memo = new RefusalMemo(60_000, 10, clock);
    memo.remember('u1', refusal('HOURLY_RATE_LIMIT_EXCEEDED', 2));
    now += 1999;
    expect(memo.recall('u1')).toBeDefined();
    now += 1;
    expect(memo.recall('u1')).toBeUndefined();
    memo.remember('u1', refusal('HOURLY_RATE_LIMIT_EXCEEDED', 0));
    expect(memo.recall('u1')).toBeUndefined();
  });

  it('keeps neither token nor concurrency refusals, nor anything but AppErrors, nor anything at ttl 0', () => {
    const memo = new RefusalMemo(1000, 10, clock);
    memo.remember('u1', refusal('DAILY_TOKEN_QUOTA_EXCEEDED', 60));
    memo.remember('u2', refusal('CONCURRENCY_LIMIT_EXCEEDED', 60));
    memo.remember('u3', new Error('DAILY_QUOTA_EXCEEDED'));
    expect([memo.recall('u1'), memo.recall('u2'), memo.recall('u3')]).toEqual([undefined, undefined, undefined]);
    const off = new RefusalMemo(0, 10, clock);
    off.remember('u1', refusal('DAILY_QUOTA_EXCEEDED', 60));
    expect(off.recall('u1')).toBeUndefined();
  });

  it('forgets one user or everyone', () => {
    const memo = new RefusalMemo(1000, 10, clock);
    memo.remember('u1', refusal('DAILY_QUOTA_EXCEEDED', 60));
    memo.remember('u2', refusal('DAILY_QUOTA_EXCEEDED', 60));
    memo.forget('u1');
    expect([memo.recall('u1'), memo.recall('u2')?.code]).toEqual([undefined, 'DAILY_QUOTA_EXCEEDED']);
    memo.forgetAll();
    expect(memo.recall('u2')).toBeUndefined();
  });

  it('holds at most maxUsers: expired entries go first, then the oldest', () => {
    const memo = new RefusalMemo(1000, 3, clock);
    memo.remember('old', refusal('DAILY_QUOTA_EXCEEDED', 60));
    now += 600;
    memo.remember('a', refusal('DAILY_QUOTA_EXCEEDED', 60));
    memo.remember('b', refusal('DAILY_QUOTA_EXCEEDED', 60));
    now += 500; // 'old' has expired
    memo.remember('c', refusal('DAILY_QUOTA_EXCEEDED', 60));
    expect(['a', 'b', 'c'].map((u) => memo.recall(u) !== undefined)).toEqual([true, true, true]);
    memo.remember('d', refusal('DAILY_QUOTA_EXCEEDED', 60));
    expect(['a', 'b', 'c', 'd'].map((u) => memo.recall(u) !== undefined)).toEqual([false, true, true, true]);
  });
});
