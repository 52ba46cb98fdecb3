import { CallLog } from './call-log';

describe('CallLog', () => {
  it('counts all calls and those containing a text', () => {
    const log = new CallLog();
    log.record('alpha one');
    log.record('beta one');
    log.record('alpha two');
    expect(log.count()).toBe(3);
    expect(log.count('alpha')).toBe(2);
    expect(log.count('one')).toBe(2);
    expect(log.count('gamma')).toBe(0);
    log.reset();
    expect(log.count()).toBe(0);
    expect(log.count('alpha')).toBe(0);
  });

  it('forgets the oldest contents past its memory bound but keeps the total exact', () => {
    const log = new CallLog(20);
    for (let i = 0; i < 3000; i++) log.record(`call-${String(i).padStart(5, '0')}`);
    expect(log.count()).toBe(3000);
    expect(log.count('call-02999')).toBe(1);
    expect(log.count('call-00000')).toBe(0);
  });
});
