import { loadConfig } from './config';

describe('ledger-consumer config', () => {
  it('BullMQ defaults: 16 events at once, a 30 s lock, stalls looked for every 15 s, five stalls allowed', () => {
    expect(loadConfig({})).toMatchObject({ QUEUE_CONCURRENCY: 16, QUEUE_LOCK_MS: 30_000, QUEUE_STALL_CHECK_INTERVAL_MS: 15_000, QUEUE_MAX_STALLS: 5 });
  });

  it('PostgreSQL defaults: 10 connections, a 10 s statement timeout', () => {
    expect(loadConfig({})).toMatchObject({ DB_POOL_SIZE: 10, DB_STATEMENT_TIMEOUT_MS: 10_000 });
  });
});
