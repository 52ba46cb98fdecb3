import { CacheTier } from '@qv/contracts';
import { z } from 'zod';
import { positiveInt, url } from './fields';

/** The deadline of the cache run in process (the worker's items, api-service's chat path); each keeps its own default. */
export const cacheTimeoutEnv = (defaults: { timeoutMs: number }) => ({
  CACHE_TIMEOUT_MS: positiveInt(defaults.timeoutMs).describe(
    "deadline of a cache operation, past which the cache is skipped (fail open: it only saves money): the worker's items and api-service's chat-completions path, whose cache runs in process on their Redis and PostgreSQL (api-service's admin cache operations, through cache-service, allow 5 s)",
  ),
});

/** How a service reaches cache-service (libs/cache-client) for the cache's operations, and its in-process cache's deadline. */
export const cacheClientEnv = (defaults: { timeoutMs: number }) => ({
  CACHE_SERVICE_URL: url('http://127.0.0.1:3003').describe('base URL of cache-service'),
  ...cacheTimeoutEnv(defaults),
});

/** The single-flight lease, for every process that takes leases (cache-service, the worker's in-process cache). */
export const singleFlightLeaseEnv = {
  SINGLE_FLIGHT_LEASE_MS: positiveInt(30_000).describe('how long a single-flight lease lives if its holder neither puts nor releases (crashed)'),
};

/**
 * Which cache tiers keep a durable copy in PostgreSQL, for every process that runs the cache
 * (cache-service, the worker, api-service's chat path): one value per deployment.
 */
export const cacheDurabilityEnv = {
  CACHE_DURABLE_TIERS: z
    .string()
    .default('system')
    .transform((list) => [...new Set(list.split(',').map((tier) => tier.trim()).filter(Boolean))])
    .pipe(z.array(CacheTier).refine((tiers) => tiers.includes('system'), 'the system tier is always durable: list it'))
    .describe(
      'comma-separated cache tiers whose entries PostgreSQL keeps a copy of (`system`, `session`, `content`; `system` always): the others live in Redis alone, their fills write no row and a Redis miss of theirs is final (the same value in cache-service, the workers and api-service)',
    ),
};
