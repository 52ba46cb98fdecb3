import { positiveInt, url } from './fields';

/** How a service reaches cache-service (libs/cache-client); each caller keeps its own deadline. */
export const cacheClientEnv = (defaults: { timeoutMs: number }) => ({
  CACHE_SERVICE_URL: url('http://127.0.0.1:3003').describe('base URL of cache-service'),
  CACHE_TIMEOUT_MS: positiveInt(defaults.timeoutMs).describe(
    "deadline of a call to cache-service, past which the cache is skipped (fail open: it only saves money); api-service's covers its chat-completions path (its admin cache operations allow 5 s)",
  ),
});
