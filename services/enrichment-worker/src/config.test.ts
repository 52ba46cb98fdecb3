import { loadConfig } from './config';

describe('enrichment-worker config', () => {
  it('BullMQ defaults: 8 jobs at once, a 30 s lock, stalls looked for every 30 s, one stall allowed', () => {
    expect(loadConfig({})).toMatchObject({ QUEUE_CONCURRENCY: 8, QUEUE_LOCK_MS: 30_000, QUEUE_STALL_CHECK_INTERVAL_MS: 30_000, QUEUE_MAX_STALLS: 1 });
  });

  it('QUEUE_MAX_STALLS=0 fails a job at its first stall', () => {
    expect(loadConfig({ QUEUE_MAX_STALLS: '0' }).QUEUE_MAX_STALLS).toBe(0);
  });
});
