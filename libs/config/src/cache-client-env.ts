import { positiveInt, url } from './fields';

/** How a service reaches cache-service (libs/cache-client); each caller keeps its own deadline. */
export const cacheClientEnv = (defaults: { timeoutMs: number }) => ({
  CACHE_SERVICE_URL: url('http://127.0.0.1:3003').describe('base URL of cache-service'),
  CACHE_TIMEOUT_MS: positiveInt(defaults.timeoutMs).describe(
    "deadline of a cache operation, past which the cache is skipped (fail open: it only saves money): the worker's calls to cache-service; api-service's chat-completions path, whose cache runs in process on its Redis and PostgreSQL (its admin cache operations, through cache-service, allow 5 s)",
  ),
});
