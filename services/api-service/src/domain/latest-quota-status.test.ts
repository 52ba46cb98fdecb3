import type { QuotaStatus } from '@qv/contracts';
import { LatestQuotaStatus } from './latest-quota-status';

const status = (plan: string) => ({ plan, level: 'ok', quotas: {} }) as unknown as QuotaStatus;

describe('LatestQuotaStatus', () => {
  it("recalls each user's latest status, and forgets a user or everyone", () => {
    const latest = new LatestQuotaStatus();
    latest.remember('a', status('free'));
    latest.remember('a', status('pro_monthly'));
    latest.remember('b', status('free'));
    expect(latest.recall('a')?.plan).toBe('pro_monthly');
    latest.forget('a');
    expect(latest.recall('a')).toBeUndefined();
    expect(latest.recall('b')?.plan).toBe('free');
    latest.forgetAll();
    expect(latest.recall('b')).toBeUndefined();
  });

  it('keeps at most maxUsers, dropping the users answered longest ago', () => {
    const latest = new LatestQuotaStatus(2);
    latest.remember('a', status('1'));
    latest.remember('b', status('2'));
    latest.remember('a', status('3')); // a answered again: b is now the oldest
    latest.remember('c', status('4'));
    expect([latest.recall('a')?.plan, latest.recall('b'), latest.recall('c')?.plan]).toEqual(['3', undefined, '4']);
  });
});
