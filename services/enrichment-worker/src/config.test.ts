import { loadConfig } from './config';

describe('enrichment-worker config', () => {
  it('BullMQ defaults: 8 jobs at once, a 30 s lock, stalls looked for every 30 s, one stall allowed', () => {
    expect(loadConfig({})).toMatchObject({ QUEUE_CONCURRENCY: 8, QUEUE_LOCK_MS: 30_000, QUEUE_STALL_CHECK_INTERVAL_MS: 30_000, QUEUE_MAX_STALLS: 1 });
  });

  it('cache-service defaults: a 2 s deadline per call, 10 s waiting for another worker', () => {
    expect(loadConfig({})).toMatchObject({ CACHE_SERVICE_URL: 'http://127.0.0.1:3003', CACHE_TIMEOUT_MS: 2000, CACHE_WAIT_MS: 10_000 });
  });

  it('QUEUE_MAX_STALLS=0 fails a job at its first stall', () => {
    expect(loadConfig({ QUEUE_MAX_STALLS: '0' }).QUEUE_MAX_STALLS).toBe(0);
  });
});
