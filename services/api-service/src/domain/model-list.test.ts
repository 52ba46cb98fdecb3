import { ModelList } from './model-list';

const model = (id: string) => ({ id, created: 0, owned_by: 'sim' });

describe('ModelList', () => {
  it('asks the provider once per TTL, one request for callers at once', async () => {
    let asked = 0;
    let clock = 0;
    const list = new ModelList(async () => (asked++, [model(`m${asked}`)]), 1000, () => clock);
    expect(await Promise.all([list.get(), list.get(), list.get()])).toEqual([[model('m1')], [model('m1')], [model('m1')]]);
    clock = 999;
    expect(await list.get()).toEqual([model('m1')]);
    clock = 1000;
    expect(await list.get()).toEqual([model('m2')]);
    expect(asked).toBe(2);
  });

  it('keeps the last list known when the provider fails, and fails only when none is known', async () => {
    let fail = true;
    let clock = 0;
    const list = new ModelList(async () => {
      if (fail) throw new Error('provider down');
      return [model('m')];
    }, 1000, () => clock);
    await expect(list.get()).rejects.toThrow('provider down');
    fail = false;
    expect(await list.get()).toEqual([model('m')]);
    fail = true;
    clock = 5000;
    expect(await list.get()).toEqual([model('m')]);
  });
});
