import { loadConfig } from './config';

describe('enrichment-worker config', () => {
  it('BullMQ defaults: 8 jobs at once, a 30 s lock, stalls looked for every 30 s, one stall allowed', () => {
    expect(loadConfig({})).toMatchObject({ QUEUE_CONCURRENCY: 8, QUEUE_LOCK_MS: 30_000, QUEUE_STALL_CHECK_INTERVAL_MS: 30_000, QUEUE_MAX_STALLS: 1 });
  });

  it('in-process cache defaults: a 2 s deadline per operation, 10 s waiting for another worker, 30 s leases; no cache-service URL', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ CACHE_TIMEOUT_MS: 2000, CACHE_WAIT_MS: 10_000, SINGLE_FLIGHT_LEASE_MS: 30_000 });
    expect(config).not.toHaveProperty('CACHE_SERVICE_URL');
  });

  it('QUEUE_MAX_STALLS=0 fails a job at its first stall', () => {
    expect(loadConfig({ QUEUE_MAX_STALLS: '0' }).QUEUE_MAX_STALLS).toBe(0);
  });
});
