import { configSchema as apiConfig } from '../../services/api-service/src/config';
import { configSchema as cacheConfig } from '../../services/cache-service/src/config';
import { configSchema as workerConfig } from '../../services/enrichment-worker/src/config';
import { configSchema as ledgerConfig } from '../../services/ledger-consumer/src/config';
import { configSchema as quotaConfig } from '../../services/quota-service/src/config';

/**
 * Each service's DB_POOL_SIZE as it ships (its config schema's default), for `startStack`'s
 * `serviceEnv`: the test stack gives every service 4 connections so that several suites fit under
 * one PostgreSQL's max_connections, which at 64 clients made the pools the bottleneck a benchmark
 * measured (64 charges waiting for 4 connections).
 */
export function productionPools(): Record<string, { DB_POOL_SIZE: string }> {
  const poolOf = (schema: { shape: { DB_POOL_SIZE: { parse(v: unknown): number } } }) => ({ DB_POOL_SIZE: String(schema.shape.DB_POOL_SIZE.parse(undefined)) });
  return {
    'api-service': poolOf(apiConfig),
    'quota-service': poolOf(quotaConfig),
    'cache-service': poolOf(cacheConfig),
    'enrichment-worker': poolOf(workerConfig),
    'ledger-consumer': poolOf(ledgerConfig),
  };
}
