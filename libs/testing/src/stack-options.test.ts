import { mergeStackOptions } from './stack-options';
import { presets } from './stack-presets';

describe('mergeStackOptions', () => {
  it('merges variables per service, the later set winning, and adds up the skipped services', () => {
    expect(
      mergeStackOptions(presets.quickRetries, presets.circuitStaysClosed, presets.withoutPipeline, {
        env: { DB_POOL_SIZE: '5' },
        serviceEnv: { 'enrichment-worker': { RETRY_BASE_DELAY_MS: '20' }, 'ledger-consumer': { RECONCILE_INTERVAL_MS: '250' } },
        skip: ['llm-simulator', 'cache-service'],
      }),
    ).toEqual({
      env: { DB_POOL_SIZE: '5' },
      serviceEnv: { 'enrichment-worker': { RETRY_BASE_DELAY_MS: '20', BREAKER_THRESHOLD: '100000' }, 'ledger-consumer': { RECONCILE_INTERVAL_MS: '250' } },
      skip: ['enrichment-worker', 'ledger-consumer', 'llm-simulator', 'cache-service'],
    });
  });

  it('of nothing is nothing', () => {
    expect(mergeStackOptions()).toEqual({ env: {}, serviceEnv: {}, skip: [] });
  });
});
